"""The answer to a report (POST /api/v1/cases), built without marshmallow and without queries.

A case just reported has nothing yet but what the request made: its timeline is the events the
report added, it has no agreement, follow-up, attachment, dispatch, child, mediator or handler,
and its places are the placement's. So the answer is the schema's (schemas.CaseOut over
queries.detail) with every value known: tests/cases/test_report.py compares the two for the same
case, byte for byte. The plain fields are converted as the schema's field types convert them,
read from the schema itself, so a field added there is answered here too.
"""

from __future__ import annotations

from marshmallow import fields

from app.cases import queries
from app.cases import schemas
from app.cases import workflow
from app.scoping import scope_for


def _iso(value):
    return None if value is None else value.isoformat()


def _str(value):
    return None if value is None else str(value)


def _int(value):
    return None if value is None else int(value)


def _float(value):
    return None if value is None else float(value)


def _bool(value):
    return None if value is None else bool(value)


def _strings(value):
    return None if value is None else [str(v) for v in value]


# The schema's plain field types and how each converts (marshmallow's own serialisation of
# these types for the values a case holds: dates and times in ISO 8601, None kept).
_CONVERT = {
    fields.DateTime: _iso,
    fields.Date: _iso,
    fields.String: _str,
    fields.Integer: _int,
    fields.Float: _float,
    fields.Boolean: _bool,
}


def _plain(field: fields.Field):
    """The converter of a plain field (by its exact type), or None for any other field."""
    if isinstance(field, fields.List) and type(field.inner) is fields.String:
        return _strings
    return _CONVERT.get(type(field))


def _region(region) -> dict:
    return {"code": region.code, "name": region.name}


def _event(event) -> dict:
    return {
        "id": event.id,
        "at": _iso(event.at),
        "actor": event.actor.display_name if event.actor else "系统",
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "from_level": event.from_level,
        "to_level": event.to_level,
        "note": event.note,
        "data": event.data,
    }


def _party(party, repeat: dict) -> dict:
    return {
        "id": party.id,
        "role": party.role,
        "name": party.name_masked,
        "id_number": party.id_number_masked,
        "phone": party.phone_masked,
        "address": party.address_masked,
        "repeat": repeat,
    }


def answer(case, user, lon: float, lat: float) -> dict:
    """The report's answer for `user`: what schemas.CaseOut dumps for queries.detail(case)."""
    counts = queries.repeat_counts(case.parties, case.id, scope_for(user)) if case.parties else {}
    camera = case.camera if case.camera_id else None
    handler = case.handler if case.handler_id else None
    known = {
        "village": _region(case.village),
        "grid_cell": _region(case.grid_cell),
        "town": _region(case.town),
        "county": _region(case.county),
        "lon": float(lon),
        "lat": float(lat),
        "reporter": user.display_name,
        "parent": case.parent.number if case.parent_id else None,
        "mediators": [],
        "handler": {"id": handler.id, "name": handler.display_name} if handler else None,
        "same_matter_of": case.same_matter_of.number if case.same_matter_of_id else None,
        "children": [],
        "camera": (
            {"id": camera.id, "device_code": camera.device_code, "name": camera.name}
            if camera
            else None
        ),
        "parties": [_party(p, counts.get(p.id, {"open": 0, "past": 0})) for p in case.parties],
        "events": [_event(e) for e in case.events],
        "agreement": None,
        "follow_ups": [],
        "attachments": [],
        # A new case has no dispatch: department staff's unit cannot hold it (queries.unit_holds).
        "allowed_actions": (
            [] if user.role == "department_staff" else workflow.allowed_actions(case, user)
        ),
    }
    return {
        key: known[key] if convert is None else convert(getattr(case, attribute))
        for key, attribute, convert in _FIELDS
    }


# The fields answer() knows itself (relations, the caller's view, values of a new case).
_OWN = {
    "village", "grid_cell", "town", "county", "lon", "lat", "reporter", "parent", "mediators",
    "handler", "same_matter_of", "children", "camera", "parties", "events", "agreement",
    "follow_ups", "attachments", "allowed_actions",
}  # fmt: skip
# (answer key, case attribute, converter or None for answer()'s own), in the schema's order.
_FIELDS = [
    (field.data_key or name, field.attribute or name, None if name in _OWN else _plain(field))
    for name, field in schemas.CaseOut().dump_fields.items()
]
if any(convert is None and key not in _OWN for key, _attr, convert in _FIELDS):
    raise RuntimeError("schemas.CaseOut has a field that app/cases/reported.answer does not know")
