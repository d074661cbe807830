"""One FeatureCollection builder for every GeoJSON endpoint: PostGIS assembles the document.

`feature_collection_sql` wraps a SELECT (its columns named) into one statement answering the
whole FeatureCollection as text (or UTF-8 bytes), so rows are never assembled in Python
(shared/STYLE.md §4). With a limit, it fetches one row more to say `truncated`, and with a
`next_key` it says how to get the rest: a `next` link ending in the keyset cursor of the last
feature returned (app/core/paging's format, so `paging.decode_cursor` reads it).
"""

from __future__ import annotations

import math

# Coordinates keep 6 decimals (about 0.1 m): enough for a field report, a third of the bytes.
PRECISION = 6


def cursor_sql(key: str) -> str:
    """SQL encoding an integer key as `paging.encode_cursor(None, key)` does (base64url of
    "|<key>", unpadded): the cursor is made where the document is."""
    return (
        f"rtrim(translate(encode(convert_to('|' || ({key})::text, 'UTF8'), 'base64'),"
        " '+/', '-_'), '=')"
    )


def feature_collection_sql(
    select_sql: str,
    *,
    feature_id: str,
    geometry: str,
    properties: dict[str, str],
    order_by: str,
    limited: bool = True,
    members: dict[str, str] | None = None,
    feature_members: dict[str, str] | None = None,
    as_bytes: bool = False,
    precision: int = PRECISION,
    next_key: str | None = None,
) -> str:
    """SQL answering a FeatureCollection of `select_sql`'s rows.

    `feature_id`, `geometry`, the values of `properties` (name → SQL expression), `order_by`
    and the `members` / `feature_members` values are SQL expressions over the select's columns
    (trusted text written in code, never user input). With `limited`, the statement takes a
    `:limit` parameter and adds `numberReturned` and `truncated`. With `next_key` (an integer
    SQL expression, the keyset of `order_by`) it also takes `:next_url` and adds `next`: that URL
    followed by the last returned feature's cursor when truncated, else null; the statement then
    answers that cursor as a second column (`next_cursor`) for the Link header.
    """
    props = ", ".join(f"'{name}', {expr}" for name, expr in properties.items())
    extra_feature = "".join(f", '{k}', {v}" for k, v in (feature_members or {}).items())
    feature = (
        f"json_build_object('type', 'Feature', 'id', {feature_id}, "
        f"'geometry', ST_AsGeoJSON({geometry}, {precision})::json{extra_feature}, "
        f"'properties', json_build_object({props}))"
    )
    extra = "".join(f", '{k}', {v}" for k, v in (members or {}).items())
    cursor = ""
    if limited and next_key:
        key = cursor_sql(f"max({next_key}) FILTER (WHERE rn = :limit)")
        last = f"CASE WHEN count(*) > :limit THEN {key} END"
        extra += f", 'next', CAST(:next_url AS text) || {last}"
        cursor = f", {last} AS next_cursor"
    if limited:
        body = f"""
            WITH sel AS ({select_sql} ORDER BY {order_by} LIMIT :limit + 1)
            SELECT json_build_object(
                'type', 'FeatureCollection'{extra},
                'features', coalesce(json_agg({feature} ORDER BY {order_by})
                                     FILTER (WHERE rn <= :limit), '[]'::json),
                'numberReturned', least(count(*), :limit),
                'truncated', count(*) > :limit)::text AS doc{cursor}
              FROM (SELECT sel.*, row_number() OVER (ORDER BY {order_by}) AS rn FROM sel) s
        """
    else:
        body = f"""
            SELECT json_build_object(
                'type', 'FeatureCollection'{extra},
                'features', coalesce(json_agg({feature} ORDER BY {order_by}), '[]'::json)
            )::text AS doc
              FROM ({select_sql}) s
        """
    if as_bytes:
        # UTF-8 bytes straight from PostgreSQL: a large answer is never decoded and re-encoded.
        more = ", next_cursor" if cursor else ""
        return f"SELECT convert_to(doc, 'UTF8'){more} FROM ({body}) fc"
    return body


def is_position(p, *, lonlat: bool = False, planar: bool = False) -> bool:
    """A GeoJSON position: 2 or 3 finite numbers (with `lonlat`, a longitude and latitude;
    with `planar`, exactly 2: an altitude would be dropped without a word)."""
    return (
        isinstance(p, list | tuple)
        and 2 <= len(p) <= (2 if planar else 3)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in p)
        and all(math.isfinite(x) for x in p)
        and (not lonlat or (-180 <= p[0] <= 180 and -90 <= p[1] <= 90))
    )


def ring_problem(ring, *, lonlat: bool = False, planar: bool = False, malformed: str) -> str | None:
    """What is wrong with a polygon's ring (positions, at least 4, closed), or None.

    `malformed` is the caller's message for a ring that is not a list of positions.
    """
    if not isinstance(ring, list | tuple) or not all(
        is_position(p, lonlat=lonlat, planar=planar) for p in ring
    ):
        return malformed
    if len(ring) < 4:
        return "多边形的环至少需要 4 个位置"
    if list(ring[0][:2]) != list(ring[-1][:2]):
        return "多边形的环未闭合（首尾位置应相同）"
    return None
