"""The shared core: the request boundary, paging, the FeatureCollection builder, scope SQL,
placement and the action runner."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from marshmallow import Schema
from marshmallow import fields
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.audit import services as audit
from app.audit.models import AuditEntry
from app.core import actions
from app.core import clock
from app.core import paging
from app.core import transaction
from app.core.errors import BadRequest
from app.core.errors import Conflict
from app.core.errors import DomainError
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.extensions import db
from app.geo import placement
from app.geo.models import GridCell
from app.geo.models import Region
from app.scoping import scope_for
from tests.factories import OTHER_VILLAGE


def audit_count(action: str) -> int:
    """How many audit entries with this action exist."""
    return db.session.scalar(select(func.count()).where(AuditEntry.action == action))


def test_domain_errors_carry_status_message_and_fields():
    """Each kind of refusal has its status; positional and keyword forms agree."""
    assert NotFound().status == 404 and NotFound().message == "未找到"
    assert Invalid("x", errors={"json": {"a": ["b"]}}).errors == {"json": {"a": ["b"]}}
    assert DomainError(409, "冲突", {"k": 1}).status == 409
    assert isinstance(Forbidden("no"), DomainError) and Forbidden("no").status == 403
    with pytest.raises(TypeError):
        DomainError(400, "a", {}, "extra")


def test_finish_commits_a_success_and_rolls_back_a_failure(app, world):
    """A 2xx answer keeps the request's changes; a 4xx answer leaves nothing behind."""
    region = db.session.scalar(select(Region).where(Region.level == "village"))
    original = region.name
    region.name = "改名村"
    db.session.flush()
    with app.test_request_context(method="POST"):
        transaction.finish(422)
    db.session.expire_all()
    assert db.session.get(Region, region.id).name == original
    db.session.get(Region, region.id).name = "改名村"
    with app.test_request_context(method="POST"):
        transaction.finish(200)
    db.session.expire_all()
    assert db.session.get(Region, region.id).name == "改名村"


def test_a_read_that_wrote_is_committed_and_one_that_did_not_is_not(app, world):
    """A GET commits only what it wrote (an audit entry, a flushed change)."""
    with app.test_request_context(method="GET"):
        db.session.execute(text("SELECT 1"))
        assert not transaction.wrote(db.session())
        audit.record("test.read", actor=False)
        assert transaction.wrote(db.session())
        transaction.finish(200)
    assert audit_count("test.read") == 1


def test_kept_audit_entries_outlive_the_rollback(app, world):
    """A denial's audit entry is written although the refused request's changes roll back."""
    region = db.session.scalar(select(Region).where(Region.level == "village"))
    original = region.name
    region.name = "不该留下"
    audit.record("test.denied", outcome="denied", actor=False, keep=True)
    audit.record("test.dropped", actor=False)
    db.session.flush()
    transaction.abort()
    db.session.expire_all()
    assert db.session.get(Region, region.id).name == original
    assert audit_count("test.denied") == 1
    assert audit_count("test.dropped") == 0


def test_cursors_round_trip_and_refuse_garbage():
    """A cursor decodes to the key it was made from; anything else is a 400 naming `after`."""
    day = dt.date(2026, 10, 1)
    assert paging.decode_cursor(paging.encode_cursor(day, 42)) == (day, 42)
    assert paging.decode_cursor(paging.encode_cursor(None, 7)) == (None, 7)
    with pytest.raises(BadRequest) as refused:
        paging.decode_cursor("not-a-cursor")
    assert refused.value.errors == {"query": {"after": ["请使用上一页返回的 next"]}}
    items, cursor = paging.page([(day, 1), (day, 2), (day, 3)], 2, key=lambda row: row)
    assert items == [(day, 1), (day, 2)] and paging.decode_cursor(cursor) == (day, 2)
    assert paging.page([(day, 1)], 2, key=lambda row: row) == ([(day, 1)], None)


def test_feature_collection_builder_limits_and_says_truncated(app, world):
    """The builder's SQL answers valid GeoJSON, in order, cut at the limit with `truncated`."""
    sql = feature_collection_sql(
        "SELECT g.code, g.name, g.geom FROM grid_cells g",
        feature_id="code",
        geometry="geom",
        properties={"code": "code", "name": "name"},
        order_by="code",
    )
    total = db.session.scalar(select(func.count(GridCell.id)))
    assert total >= 3
    doc = json.loads(db.session.execute(text(sql), {"limit": 2}).scalar_one())
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == 2 and doc["truncated"] is True
    codes = [f["id"] for f in doc["features"]]
    assert codes == sorted(codes) and len(codes) == 2
    assert doc["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    whole = json.loads(db.session.execute(text(sql), {"limit": total}).scalar_one())
    assert whole["truncated"] is False and len(whole["features"]) == total
    unlimited = feature_collection_sql(
        "SELECT g.code, g.geom FROM grid_cells g",
        feature_id="code",
        geometry="ST_PointOnSurface(geom)",
        properties={"code": "code"},
        order_by="code",
        limited=False,
        members={"total": "count(*)"},
        as_bytes=True,
    )
    raw = db.session.execute(text(unlimited)).scalar_one()
    doc = json.loads(bytes(raw).decode())
    assert doc["total"] == total and doc["features"][0]["geometry"]["type"] == "Point"


def test_scope_sql_limits_grid_workers_to_their_cells_and_own_rows(app, world):
    """Scope.sql and Scope.clause keep the same rows: a county's subtree; a worker's cells."""
    county = scope_for(world["official@county"])
    worker = scope_for(world["grid_worker@village"])
    condition, params = county.sql("g", code="code")
    in_county = db.session.scalar(
        text(f"SELECT count(*) FROM grid_cells g WHERE {condition}"), params
    )
    assert in_county == db.session.scalar(
        select(func.count(GridCell.id)).where(county.clause(GridCell.code))
    )
    assert in_county < db.session.scalar(select(func.count(GridCell.id)))
    condition, params = worker.sql("g", code="code", cell="id")
    mine = db.session.scalars(text(f"SELECT g.id FROM grid_cells g WHERE {condition}"), params)
    assert sorted(mine) == sorted(worker.grid_cell_ids) and worker.grid_cell_ids
    orm = db.session.scalars(
        select(GridCell.id).where(worker.clause(GridCell.code, GridCell.id))
    ).all()
    assert sorted(orm) == sorted(worker.grid_cell_ids)


def test_placement_names_only_villages_inside_the_jurisdiction(app, world):
    """Outside every cell, the nearest village named is one the caller may see, or none."""
    village_official = scope_for(world["official@village"])
    # East of both counties: the other county's village is nearest, but not this caller's.
    with pytest.raises(Invalid) as refused:
        placement.place_point(118.6, 37.32, village_official)
    nearest = refused.value.errors["nearest_village"]
    assert nearest is None or nearest["code"].startswith(village_official.prefix)
    assert OTHER_VILLAGE not in refused.value.message
    cell = db.session.scalar(select(GridCell).where(GridCell.code.startswith(OTHER_VILLAGE)))
    lon, lat = db.session.execute(
        select(
            func.ST_X(func.ST_PointOnSurface(cell.geom)),
            func.ST_Y(func.ST_PointOnSurface(cell.geom)),
        )
    ).one()
    with pytest.raises(Forbidden):
        placement.place_point(lon, lat, village_official, outside_scope="辖区外")
    found = placement.cell_at(lon, lat)
    assert found.cell.code == cell.code and found.village.code == OTHER_VILLAGE
    assert found.as_dict()["village"]["code"] == OTHER_VILLAGE


class _Body(Schema):
    name = fields.String(required=True)


def test_action_runner_writes_all_or_nothing(app, world):
    """A check or body that fails leaves nothing written; a good one applies and flushes."""
    region = db.session.scalar(select(Region).where(Region.level == "village"))
    original = region.name

    def rename(subject, data):
        subject.name = data["name"]
        return subject.name

    def refuse():
        region.name = "检查前的改动"
        raise Conflict("不行")

    with pytest.raises(Conflict):
        actions.run(actions.Step(_Body, rename, check=refuse), region, {"name": "甲"})
    db.session.expire_all()
    assert db.session.get(Region, region.id).name == original
    with pytest.raises(Invalid) as invalid:
        actions.run(actions.Step(_Body, rename), region, {"name": 3})
    assert "name" in invalid.value.errors["json"]
    with pytest.raises(Invalid):
        actions.run(actions.Step(_Body, rename), region, ["not", "an", "object"])
    assert actions.run(actions.Step(_Body, rename), region, {"name": "新名村"}) == "新名村"
    assert db.session.scalar(select(Region.name).where(Region.id == region.id)) == "新名村"


def test_version_from_if_match_or_body():
    """If-Match wins over the body; a malformed one is a 400."""
    assert actions.version_from('"3"', {"version": 9}) == 3
    assert actions.version_from('W/"4"', None) == 4
    assert actions.version_from(None, {"version": 5}) == 5
    assert actions.version_from(None, None) is None
    with pytest.raises(BadRequest):
        actions.version_from("abc", {})


def test_clock_today_is_shanghai_date(monkeypatch):
    """Late evening UTC is already tomorrow in Shanghai."""
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 12, 1, 17, 0, tzinfo=dt.UTC))
    assert clock.today() == dt.date(2026, 12, 2)
    assert clock.start_of(dt.date(2026, 12, 2)).utcoffset() == dt.timedelta(hours=8)
