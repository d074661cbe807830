"""app/core/dump.py answers exactly what marshmallow's Schema.dump answers."""

from __future__ import annotations

import datetime as dt
import decimal
from types import SimpleNamespace

from marshmallow import Schema
from marshmallow import fields
from marshmallow import post_dump

from app.core.dump import compiled
from app.core.dump import dump


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
