"""Jurisdiction scoping: the one helper every list, detail, map layer and export goes through.

A user's jurisdiction is one region; its subtree is every code that starts with the region's
significant digits (统计用区划代码 are hierarchical): a province's 2, a prefecture's (市) 4, a
county's 6, a town's 9, a village's 12 — so a 市 official's scope holds every county below.
Grid cells (15 digits) start with their village's 12, so they fall in the same subtree.

Department staff (shared/DOMAIN.md §8) have no region subtree: their scope's prefix matches no
code, so every region-scoped read shows them nothing, and only the reads that know about
dispatches (app/cases/queries.py) add the cases sent to their unit (`department_id`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user
from sqlalchemy import ColumnElement

SIGNIFICANT_DIGITS = {"province": 2, "prefecture": 4, "county": 6, "town": 9, "village": 12}
# A prefix no region or cell code starts with (codes are digits): nothing by region.
NO_REGION = "#"


@dataclass(frozen=True)
class Scope:
    """What a user may see: a code prefix, plus (for grid workers) their cells and own reports."""

    prefix: str
    user_id: int
    grid_cell_ids: tuple[int, ...] | None = None
    # Department staff: the unit whose dispatched cases they see (and nothing by region).
    department_id: int | None = None

    def contains(self, code: str | None) -> bool:
        """True when a region or grid-cell code lies in the subtree."""
        return bool(code) and code.startswith(self.prefix)

    @property
    def cell_bound(self) -> bool:
        """True for a grid worker: only their own cells (and what they own) are theirs."""
        return self.grid_cell_ids is not None

    def clause(self, code_column, cell_column=None, own_columns=()) -> ColumnElement[bool]:
        """A SQL condition keeping rows in the subtree (ORM/Core form of `sql`).

        For a grid worker with `cell_column`: only rows in their cells, or rows where one of
        `own_columns` (reporter, registrant, responsible person...) is the worker.
        """
        condition = code_column.startswith(self.prefix, autoescape=True)
        if self.cell_bound and cell_column is not None:
            mine = cell_column.in_(list(self.grid_cell_ids))
            for column in own_columns:
                mine = mine | (column == self.user_id)
            condition = condition & mine
        return condition

    def sql(
        self, alias: str, *, code: str = "region_code", cell: str | None = None, own=()
    ) -> tuple[str, dict]:
        """The same condition as `clause`, as text SQL for table alias `alias`, with parameters.

        The parameter names (:scope_prefix, :scope_cells, :scope_user) are the same for every
        alias, so several tables' conditions can share one statement.
        """
        condition = f"{alias}.{code} LIKE :scope_prefix || '%'"
        params = dict(self.params)
        if self.cell_bound and cell is not None:
            mine = " OR ".join(
                [f"{alias}.{cell} = ANY(:scope_cells)"]
                + [f"{alias}.{column} = :scope_user" for column in own]
            )
            condition += f" AND ({mine})"
            params |= {"scope_cells": list(self.grid_cell_ids), "scope_user": self.user_id}
        return condition, params

    @property
    def params(self) -> dict:
        """Bind parameters for text SQL: `code LIKE :scope_prefix || '%'`."""
        return {"scope_prefix": self.prefix}


def region_prefix(code: str, level: str) -> str:
    """The significant digits of a region code."""
    return code[: SIGNIFICANT_DIGITS[level]]


def scope_key(user) -> tuple:
    """What a user's scope is computed from, besides their region's code and their cells."""
    return (user.id, user.role, user.region_id, user.department_id)


def scope_for(user) -> Scope:
    """The caller's scope, from their jurisdiction region (and grid cells for grid workers).

    A user the authentication cache attached (app/accounts/principals.py) brings the scope
    computed when its rows were read, valid while the same role, region and department hold.
    """
    known = getattr(user, "known_scope", None)
    if known is not None and known[0] == scope_key(user):
        return known[1]
    if user.role == "department_staff":
        return Scope(prefix=NO_REGION, user_id=user.id, department_id=user.department_id)
    prefix = region_prefix(user.region.code, user.region.level)
    cells = tuple(c.id for c in user.grid_cells) if user.role == "grid_worker" else None
    return Scope(prefix=prefix, user_id=user.id, grid_cell_ids=cells)


def current_scope() -> Scope:
    """The scope of the signed-in user of this request."""
    return scope_for(current_user)
