"""One FeatureCollection builder for every GeoJSON endpoint: PostGIS assembles the document.

`feature_collection_sql` wraps a SELECT (its columns named) into one statement answering the
whole FeatureCollection as text (or UTF-8 bytes), so rows are never assembled in Python
(shared/STYLE.md §4). With a limit, it fetches one row more to say `truncated`.
"""

from __future__ import annotations

# Coordinates keep 6 decimals (about 0.1 m): enough for a field report, a third of the bytes.
PRECISION = 6


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
) -> str:
    """SQL answering a FeatureCollection of `select_sql`'s rows.

    `feature_id`, `geometry`, the values of `properties` (name → SQL expression), `order_by`
    and the `members` / `feature_members` values are SQL expressions over the select's columns
    (trusted text written in code, never user input). With `limited`, the statement takes a
    `:limit` parameter and adds `numberReturned` and `truncated`.
    """
    props = ", ".join(f"'{name}', {expr}" for name, expr in properties.items())
    extra_feature = "".join(f", '{k}', {v}" for k, v in (feature_members or {}).items())
    feature = (
        f"json_build_object('type', 'Feature', 'id', {feature_id}, "
        f"'geometry', ST_AsGeoJSON({geometry}, {PRECISION})::json{extra_feature}, "
        f"'properties', json_build_object({props}))"
    )
    extra = "".join(f", '{k}', {v}" for k, v in (members or {}).items())
    if limited:
        body = f"""
            WITH sel AS ({select_sql} ORDER BY {order_by} LIMIT :limit + 1)
            SELECT json_build_object(
                'type', 'FeatureCollection'{extra},
                'features', coalesce(json_agg({feature} ORDER BY {order_by})
                                     FILTER (WHERE rn <= :limit), '[]'::json),
                'numberReturned', least(count(*), :limit),
                'truncated', count(*) > :limit)::text AS doc
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
        return f"SELECT convert_to(doc, 'UTF8') FROM ({body}) fc"
    return body
