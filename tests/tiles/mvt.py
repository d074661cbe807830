"""A minimal Mapbox Vector Tile (protobuf) decoder for the tests: layers, ids, properties."""

from __future__ import annotations

import struct


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) for each field of a message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i : i + length], i + length
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        value, i = _varint(buf, i)
        out.append(value)
    return out


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _value(buf: bytes):
    for number, _, value in _fields(buf):
        if number == 1:
            return value.decode()
        if number == 2:
            return struct.unpack("<f", value)[0]
        if number == 3:
            return struct.unpack("<d", value)[0]
        if number in (4, 5):
            return value if value < 2**63 else value - 2**64
        if number == 6:
            return _zigzag(value)
        if number == 7:
            return bool(value)
    return None


def _first_point(geometry: list[int]) -> tuple[int, int] | None:
    """The first vertex (tile coordinates) of a geometry's command stream."""
    if len(geometry) < 3:
        return None
    return _zigzag(geometry[1]), _zigzag(geometry[2])


def decode(tile: bytes) -> dict[str, list[dict]]:
    """{layer name: [{"id", "type", "properties", "point"}]} of a tile."""
    layers = {}
    for number, _, layer_buf in _fields(tile):
        if number != 3:
            continue
        name, keys, values, raw_features = None, [], [], []
        for n, _, value in _fields(layer_buf):
            if n == 1:
                name = value.decode()
            elif n == 2:
                raw_features.append(value)
            elif n == 3:
                keys.append(value.decode())
            elif n == 4:
                values.append(_value(value))
        features = []
        for raw in raw_features:
            feature = {"id": None, "type": None, "properties": {}, "point": None}
            for n, _, value in _fields(raw):
                if n == 1:
                    feature["id"] = value
                elif n == 2:
                    tags = _packed(value)
                    feature["properties"] = {
                        keys[tags[k]]: values[tags[k + 1]] for k in range(0, len(tags), 2)
                    }
                elif n == 3:
                    feature["type"] = value
                elif n == 4:
                    feature["point"] = _first_point(_packed(value))
            features.append(feature)
        layers[name] = features
    return layers
