"""Static files (app/assets.py): hashed URLs, a year's cache when the hash matches, gzip."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from tests.accounts.helpers import login


def test_map_assets_are_hashed_immutable_and_gzipped(app, client, world):
    """Every script and style of /map names its content and is cached for a year: a repeat
    visit fetches none again; gzip answers the same bytes; a stale hash is not immutable."""
    assert login(client, world["official@county"].username).status_code == 302
    html = client.get("/map").get_data(as_text=True)
    urls = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', html)
    urls += re.findall(r'<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html)
    assert len(urls) >= 4 and any(".css" in url for url in urls)
    root = Path(app.static_folder)
    for url in urls:
        path, version = re.fullmatch(r"/static/([^?]+)\?v=([0-9a-f]{12})", url).groups()
        plain = client.get(url)
        assert plain.status_code == 200, url
        assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert plain.data == (root / path).read_bytes()
        zipped = client.get(url, headers={"Accept-Encoding": "gzip, br"})
        assert zipped.headers["Cache-Control"] == plain.headers["Cache-Control"]
        if len(plain.data) >= 1024:
            assert zipped.headers["Content-Encoding"] == "gzip", url
            assert gzip.decompress(zipped.data) == plain.data
            assert "Accept-Encoding" in zipped.headers["Vary"]
    stale = client.get(urls[0].split("?")[0] + "?v=000000000000")
    assert stale.status_code == 200 and "immutable" not in stale.headers.get("Cache-Control", "")
    assert client.get("/static/js/nothing.js?v=000000000000").status_code == 404
    # The service worker precaches the same hashed URLs the pages ask for.
    first_line = client.get("/sw.js").get_data(as_text=True).split("\n", 1)[0]
    config = json.loads(first_line.removeprefix("self.GRIDGOV_SW = ").rstrip(";"))
    assert config["assets"] and all(re.search(r"\?v=[0-9a-f]{12}$", a) for a in config["assets"])
    assert set(urls) & set(config["assets"])
