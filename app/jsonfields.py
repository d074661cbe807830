"""Marshmallow fields for JSON bodies that take only the JSON type the API documents.

marshmallow's own number and boolean fields convert what they can: `"3"` and `2.5` become the
integer 3 and 2, `"118.0"` a float, `"yes"` and `1` True. That suits query strings, where every
value arrives as text, but in a JSON body it accepts payloads the OpenAPI document calls invalid
(and truncates 2.5 days to 2 without a word). Body schemas use these instead.
"""

from __future__ import annotations

import numbers

from marshmallow import fields


class Integer(fields.Integer):
    """A JSON integer: not a string, not a fraction, not a boolean."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class Float(fields.Float):
    """A JSON number: not a string, not a boolean."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Boolean(fields.Boolean):
    """JSON true or false only."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
