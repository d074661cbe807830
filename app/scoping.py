"""Jurisdiction scoping: the one helper every list, detail, map layer and export goes through.

A user's jurisdiction is one region; its subtree is every code that starts with the region's
significant digits (统计用区划代码 are hierarchical): a county's 6, a town's 9, a village's 12.
Grid cells (15 digits) start with their village's 12, so they fall in the same subtree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement

SIGNIFICANT_DIGITS = {"county": 6, "town": 9, "village": 12}


@dataclass(frozen=True)
class Scope:
    """What a user may see: a code prefix, plus (for grid workers) their cells and own reports."""

    prefix: str
    user_id: int
    grid_cell_ids: tuple[int, ...] | None = None

    def contains(self, code: str | None) -> bool:
        """True when a region or grid-cell code lies in the subtree."""
        return bool(code) and code.startswith(self.prefix)

    def clause(self, code_column) -> ColumnElement[bool]:
        """A SQL condition keeping rows whose code column lies in the subtree."""
        return code_column.startswith(self.prefix, autoescape=True)

    @property
    def params(self) -> dict:
        """Bind parameters for text SQL: `code LIKE :scope_prefix || '%'`."""
        return {"scope_prefix": self.prefix}


def region_prefix(code: str, level: str) -> str:
    """The significant digits of a region code."""
    return code[: SIGNIFICANT_DIGITS[level]]


def scope_for(user) -> Scope:
    """The caller's scope, from their jurisdiction region (and grid cells for grid workers)."""
    prefix = region_prefix(user.region.code, user.region.level)
    cells = tuple(c.id for c in user.grid_cells) if user.role == "grid_worker" else None
    return Scope(prefix=prefix, user_id=user.id, grid_cell_ids=cells)


def current_scope() -> Scope:
    """The scope of the signed-in user of this request."""
    from flask_login import current_user

    return scope_for(current_user)
