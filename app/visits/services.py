"""Visit writes: log (idempotent by the outbox key), photos, review. Services flush, never commit.

A visit is placed by its point with the one placement rule (app/geo/placement.py): outside
every cell 422, outside the caller's jurisdiction 403. The household and householder are
encrypted and masked (app/pii.py); the household's keyed hash is taken with its village's
code, so the same label in two villages counts as two households.
"""

from __future__ import annotations

import datetime as dt
import secrets

from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc

from app import pii
from app.attachments import services as attachments
from app.audit import services as audit
from app.core import actions as runner
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.extensions import db
from app.geo import placement as geo_placement
from app.scoping import scope_for
from app.visits import queries
from app.visits import schemas
from app.visits.models import Visit

# A phone's clock may run a little fast: a visit "in the future" by more is refused.
CLOCK_SLACK = dt.timedelta(minutes=10)
MAX_PHOTOS = 10


def mask_household(label: str) -> str:
    """3组12号 → 3组***: the group stays (for the reviewer), the house number does not."""
    return label[:2] + "***"


def log(data: dict, user, key: str | None = None) -> tuple[Visit, bool]:
    """Log a visit (data as VisitIn loads it, the point in WGS84); (visit, created).

    With a key (the body's `client_key` or the Idempotency-Key header) a retry answers the visit
    the first request made, so a phone's outbox may send it any number of times.
    """
    body_key = data.pop("client_key", None)
    if key and body_key and key != body_key:
        message = _("client_key 与 Idempotency-Key 不一致")
        raise Invalid(message, errors={"json": {"client_key": [message]}})
    key = key or body_key
    if key:
        existing = queries.by_client_key(user.id, key)
        if existing is not None:
            return existing, False
    place = geo_placement.place_point(
        data["lon"],
        data["lat"],
        scope_for(user),
        field="location",
        outside_scope=_("该位置不在您的辖区内：只能记录本辖区的走访"),
    )
    now = clock.now()
    visited_at = data.get("visited_at") or now
    if visited_at > now + CLOCK_SLACK:
        message = _("走访时间不能晚于现在")
        raise Invalid(message, errors={"json": {"visited_at": [message]}})
    household = data["household"].strip()
    householder = (data.get("householder") or "").strip() or None
    visit = Visit(
        client_key=key or f"s-{secrets.token_hex(16)}",
        logged_by_id=user.id,
        geom=f"SRID=4326;POINT({data['lon']} {data['lat']})",
        grid_cell_id=place.cell.id,
        village_id=place.village.id,
        town_id=place.town.id,
        county_id=place.county.id,
        region_code=place.cell.code,
        household_enc=pii.encrypt(household),
        household_masked=mask_household(household),
        household_hash=pii.keyed_hash(f"{place.village.code}:{household}"),
        householder_enc=pii.encrypt(householder),
        householder_masked=pii.mask_name(householder) if householder else None,
        purpose=data["purpose"],
        heard=data["heard"],
        visited_at=visited_at,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(visit)
            db.session.flush()
    except sa_exc.IntegrityError:
        # The same key raced in from another request and won: answer its visit.
        existing = queries.by_client_key(user.id, key) if key else None
        if existing is None:
            raise
        return existing, False
    audit.record(
        "visits.log",
        actor=user,
        object_type="visit",
        object_id=visit.id,
        region_code=visit.region_code,
        detail={"purpose": visit.purpose},
    )
    return visit, True


def add_photos(visit: Visit, uploads: list[attachments.Upload], user) -> list:
    """Store photos of one's own visit; the same content is not attached twice (retries)."""
    if visit.logged_by_id != user.id:
        raise Forbidden(_("只能为本人记录的走访上传照片"), {"photos": [_("不是本人的走访")]})
    existing = {a.sha256: a for a in attachments.for_owners("visit", [visit.id]).get(visit.id, [])}
    if len(existing) + len([u for u in uploads if u.sha256 not in existing]) > MAX_PHOTOS:
        message = _("每次走访最多 %(n)s 张照片", n=MAX_PHOTOS)
        raise Invalid(message, errors={"photos": [message]})
    for upload in uploads:
        if upload.sha256 not in existing:
            existing[upload.sha256] = attachments.store(upload, "visit", visit.id, user)
    return list(existing.values())


def check_review(visit: Visit, user, version: int | None) -> None:
    """Before the body: the role, the version the caller saw (428/409), the state (409)."""
    if user.role != "official":
        raise Forbidden(_("只有村（镇）干部可以审阅走访记录"))
    if version is None:
        raise PreconditionRequired(_("缺少版本号：请在 If-Match 或 version 中给出"))
    if version != visit.version:
        raise stale(version, visit.version)
    if visit.review_state == "reviewed":
        raise Conflict(_("该走访记录已审阅"), errors={"review_state": visit.review_state})


def apply_review(visit: Visit, user, data: dict) -> Visit:
    """Mark the visit reviewed with the comment (ReviewIn loaded it)."""
    comment = data["comment"].strip()
    if not comment:
        message = _("请填写审阅意见")
        raise Invalid(message, errors={"json": {"comment": [message]}})
    visit.review_state = "reviewed"
    visit.review_comment = comment
    visit.reviewed_by_id = user.id
    visit.reviewed_at = clock.now()
    audit.record(
        "visits.review",
        actor=user,
        object_type="visit",
        object_id=visit.id,
        region_code=visit.region_code,
    )
    return visit


def review(visit: Visit, user, body, version: int | None) -> Visit:
    """A village (or town, county) official's review with a comment, through the action runner:
    all or nothing; 428 without a version, 409 when stale or already reviewed, 422 without a
    comment."""
    step = runner.Step(
        schemas.ReviewIn,
        lambda v, data: apply_review(v, user, data),
        check=lambda: check_review(visit, user, version),
    )
    return runner.run(step, visit, body, version=version)
