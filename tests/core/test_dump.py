"""app/core/dump.py answers exactly what marshmallow's Schema.dump answers."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

from flask import jsonify
from marshmallow import Schema
from marshmallow import fields
from marshmallow import post_dump

from app.core.dump import compiled
from app.core.dump import dump
from app.core.dump import json_answer


class Inner(Schema):
    code = fields.String()
    n = fields.Integer(allow_none=True)


class Every(Schema):
    """One field of each kind the compiled form knows, and some it leaves to marshmallow."""

    i = fields.Integer()
    f = fields.Float(allow_none=True)
    s = fields.String(allow_none=True)
    b = fields.Boolean()
    d = fields.Date(data_key="from")
    t = fields.DateTime()
    t_fmt = fields.DateTime(format="%Y/%m/%d")
    raw = fields.Raw(allow_none=True)
    nested = fields.Nested(Inner, allow_none=True)
    nested_many = fields.Nested(Inner, many=True)
    listed = fields.List(fields.Nested(Inner))
    numbers = fields.List(fields.Integer())
    mapping = fields.Dict(keys=fields.String(), values=fields.Integer())
    dotted = fields.String(attribute="nested.code")
    defaulted = fields.String(dump_default="默认")
    method = fields.Method("shout")
    decimal_ = fields.Decimal(as_string=True)
    as_string = fields.Integer(as_string=True)
    pluck = fields.Pluck(Inner, "code")
    items = fields.String()  # a dict without "items": marshmallow reads the dict's method

    def shout(self, obj):
        return str(obj.get("s")).upper() if isinstance(obj, dict) else "?"


class Hooked(Inner):
    @post_dump
    def tag(self, data, **kwargs):
        return {**data, "hooked": True}


VALUES = {
    "i": decimal.Decimal("7"),
    "f": decimal.Decimal("0.3333"),
    "s": 12,
    "b": "yes",
    "d": dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),  # a datetime in a Date field
    "t": dt.datetime(2026, 12, 1, 9, 30, 15, 123, tzinfo=dt.UTC),
    "t_fmt": dt.datetime(2026, 12, 1),
    "raw": {"any": [1, "二"]},
    "nested": {"code": "371699", "n": None},
    "nested_many": [{"code": "a", "n": 1}, SimpleNamespace(code="b", n=2)],
    "listed": [{"code": "c"}],
    "numbers": [1.0, decimal.Decimal("2")],
    "mapping": {"red": 1.0},
    "decimal_": decimal.Decimal("1.50"),
    "as_string": 3,
    "pluck": {"code": "p"},
}


def test_every_field_kind_answers_as_marshmallow_does():
    schema = Every()
    assert compiled(schema) is not None  # compiled, not handed back to marshmallow
    for obj in (
        VALUES,
        {**VALUES, "f": None, "s": None, "nested": None, "raw": None},
        {"i": 1},  # the rest missing: left out, defaults and methods still answered
        SimpleNamespace(**{k: v for k, v in VALUES.items() if k != "d"}),
    ):
        assert dump(schema, obj) == schema.dump(obj)
    many = [VALUES, {"i": 2}]
    assert dump(Every(many=True), many) == Every(many=True).dump(many)
    assert dump(schema, many, many=True) == schema.dump(many, many=True)
    assert dump(Every(only=("i", "nested")), VALUES) == Every(only=("i", "nested")).dump(VALUES)
    assert dump(Every(exclude=("items",)), VALUES) == Every(exclude=("items",)).dump(VALUES)


def test_a_schema_with_hooks_is_dumped_by_marshmallow_itself():
    schema = Hooked()
    assert compiled(schema) is None
    assert dump(schema, {"code": "x", "n": 1}) == {"code": "x", "n": 1, "hooked": True}


@dataclass
class Point:
    x: int
    label: str


def test_json_answer_is_jsonifys_value_in_utf_8(app):
    """Rendered by orjson: the same bytes, status and content type as the app's jsonify (Flask's
    own conversions for dates, Decimal, UUID, dataclasses; keys sorted; Chinese as UTF-8)."""
    data = {
        "z": [1, 2.5, None, True, "东村"],
        "a": {"day": dt.date(2026, 3, 1), "at": dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)},
        "m": decimal.Decimal("0.1429"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "p": Point(3, "西村"),
        "nested": [{"b": 1, "a": {"d": 0.1, "c": -7}}],
    }
    with app.test_request_context():
        fast, plain = json_answer(data, 201), jsonify(data)
        plain.status_code = 201
        assert fast.status_code == plain.status_code == 201
        assert fast.mimetype == plain.mimetype == "application/json"
        assert fast.data == plain.data
        assert json.loads(fast.data)["a"]["day"] == "Sun, 01 Mar 2026 00:00:00 GMT"  # Flask's
        assert fast.data.endswith(b"\n") and "东村".encode() in fast.data
        keys = list(json.loads(fast.data))
        assert keys == sorted(keys)
