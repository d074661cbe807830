"""Marshmallow's `Schema.dump`, compiled once per schema (issue 18).

An answer of a thousand nested objects (the 工作台's measures of every sub-region, a case's
dispatches with their units and documents) spends most of its time in marshmallow's layers —
field lookup, accessor, `serialize`, `_serialize` — once per value. `dump(schema, obj)` answers
exactly what `schema.dump(obj)` answers: the schema's fields are turned once into a flat list of
(key, attribute, converter), and the converters of the common fields are the one line marshmallow
runs for them (`int(v)`, `float(v)`, `v.isoformat()`...). A field it does not know exactly (a
subclass, a dump default, a Method field...) is serialized by the field itself, and a schema with
hooks (`pre_dump`, `post_dump`) or its own `get_attribute` by marshmallow itself, so nothing is
answered differently — tests/core/test_dump.py holds it to `schema.dump` on every field kind and
on the real answers that use it.

Views use it where the answer is large: they return `json_answer(dump(Schema(), result))`, which
flask-smorest passes through as it is (the schema still documents the answer). `json_answer`
renders with orjson — the same bytes as the app's `jsonify` (keys sorted, Chinese as UTF-8,
Flask's own conversions for dates, Decimal, UUID and dataclasses), written ten times faster.
Two spellings differ, not the values: a tiny float's exponent (`1e-7` for `1e-07`), and a
non-finite float, `null` where the standard library writes `NaN` (which is not JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Response
from flask import current_app
from marshmallow import Schema
from marshmallow import fields
from marshmallow import missing
from marshmallow import utils
from marshmallow.decorators import POST_DUMP
from marshmallow.decorators import PRE_DUMP

Converter = Callable[[Any, str, Any], Any]
NO_KEY = object()
CACHE_ATTRIBUTE = "_compiled_dump"
# orjson as Flask's JSON provider writes: keys sorted (any key type), a trailing newline, and
# dates, datetimes and dataclasses handed to the provider's `default` (Flask's HTTP-date for a
# bare date, as jsonify writes it) instead of orjson's own spelling.
JSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def json_answer(data: Any, status: int = 200) -> Response:
    """`jsonify(data)`'s answer (the same JSON value, status and content type), by orjson."""
    provider = current_app.json
    body = orjson.dumps(data, default=provider.default, option=JSON_OPTIONS)
    return current_app.response_class(body, status=status, mimetype=provider.mimetype)


def dump(schema: Schema, obj: Any, many: bool | None = None) -> Any:
    """`schema.dump(obj, many=many)`, answered by the schema's compiled form."""
    plan = compiled(schema)
    if plan is None:
        return schema.dump(obj, many=many)
    many = schema.many if many is None else bool(many)
    if many and obj is not None:
        return [run(plan, item) for item in obj]
    return run(plan, obj)


# How a plan entry reads its value: by a plain name, a dotted path, or the field's own serialize.
PLAIN, DOTTED, WHOLE = 0, 1, 2


def run(plan: list, obj: Any) -> dict:
    """One object through a compiled schema (Schema._serialize)."""
    out = {}
    is_dict = type(obj) is dict
    for key, attribute, convert, how in plan:
        if how == PLAIN:
            if is_dict:
                value = obj.get(attribute, NO_KEY)
                if value is NO_KEY:  # marshmallow then tries the attribute
                    value = getattr(obj, attribute, missing)
            else:
                value = value_of(obj, attribute)
            if value is missing:
                continue
            out[key] = convert(value, attribute, obj)
        else:
            value = convert(obj) if how == WHOLE else utils.get_value(obj, attribute, missing)
            if value is missing:
                continue
            out[key] = value if how == WHOLE else convert(value, attribute, obj)
    return out


def value_of(obj: Any, attribute: str) -> Any:
    """marshmallow's own accessor for a plain attribute name (private there, so named once)."""
    return utils._get_value_for_key(obj, attribute, missing)


def compiled(schema: Schema) -> list | None:
    """The schema's plan (kept on the instance), or None when marshmallow must dump it."""
    plan = schema.__dict__.get(CACHE_ATTRIBUTE, NO_KEY)
    if plan is not NO_KEY:
        return plan
    plan = None
    hooks = schema._hooks.get(PRE_DUMP) or schema._hooks.get(POST_DUMP)
    if not hooks and type(schema).get_attribute is Schema.get_attribute:
        plan = [entry(name, field) for name, field in schema.dump_fields.items()]
    schema.__dict__[CACHE_ATTRIBUTE] = plan
    return plan


def entry(name: str, field: fields.Field) -> tuple:
    """(answer key, attribute, converter, how) of one field."""
    key = field.data_key if field.data_key is not None else name
    attribute = field.attribute or name
    if field.dump_default is not missing or not field._CHECK_ATTRIBUTE:
        # Defaults and fields that read no attribute (Method, Function...): the field itself.
        return key, attribute, lambda obj: field.serialize(name, obj), WHOLE
    return key, attribute, converter(field), DOTTED if "." in attribute else PLAIN


def _none_or(fn: Callable[[Any], Any]) -> Converter:
    return lambda value, attr, obj: None if value is None else fn(value)


def converter(field: fields.Field) -> Converter:
    """How a field turns a value into its answer: marshmallow's own line for the fields it
    knows exactly, else the field's own `_serialize`."""
    kind = type(field)
    if kind in (fields.Integer, fields.Float) and not field.as_string:
        return _none_or(field.num_type)
    if kind is fields.String:
        return _none_or(utils.ensure_text_type)
    if kind is fields.Raw:
        return lambda value, attr, obj: value
    if kind in (fields.Date, fields.DateTime):
        fn = field.SERIALIZATION_FUNCS.get(field.format or field.DEFAULT_FORMAT)
        if fn is not None:
            return _none_or(fn)
    if kind is fields.Nested:
        return nested(field)
    if kind is fields.List:
        inner = nested(field.inner) if type(field.inner) is fields.Nested else None
        inner = inner or converter(field.inner)
        return lambda value, attr, obj: (
            None if value is None else [inner(each, attr, obj) for each in value]
        )
    return field._serialize


def nested(field: fields.Nested) -> Converter:
    """A Nested field: its schema compiled (resolved at first use, as marshmallow does)."""

    def convert(value, attr, obj):
        schema = field.schema
        if value is None:
            return None
        return dump(schema, value, many=schema.many or field.many)

    return convert
