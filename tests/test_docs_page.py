"""The interactive API docs are served from local assets only."""

import re


def test_api_docs_use_local_assets(client):
    """/api/v1/docs loads Swagger UI from /static, never from another host."""
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200
