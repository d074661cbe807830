"""A new case's first write: its number, row, first event, parties, receipt and audit entry in one
statement, the commit next.

The serial (`case_counters`, one row per county and year) is a row lock held until the report
commits: every report of a county waits for the one before it to commit. So a report computes
everything that does not need the number first (placement, clocks, masked and encrypted
parties, the first event), and only then takes the number, in the same statement that writes the
case (issue 18: the lock had been held over eight statements and the ORM's unit of work, and
concurrent reports queued on it). The receipt's hash is over the number's series, not the number
(app/resident/receipts.py), and the audit entry names the number through a marker the statement
replaces (app/audit/services.py `fold_pending`), so neither needs a statement after the number.
Numbers stay gapless: a report that rolls back gives its serial back with the rest.

The instances (a `Case`, its `CaseEvent` and `Party` rows) are built as usual and then attached
to the session as the rows the statement wrote, every column known (server defaults read back
by RETURNING), so nothing is loaded again and a later change is an ordinary ORM UPDATE.
"""

from __future__ import annotations

import functools

from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import services as audit
from app.cases.models import Case
from app.cases.models import CaseCounter
from app.cases.models import CaseEvent
from app.cases.models import Party
from app.extensions import db
from app.privacy import freetext
from app.resident.models import Receipt

SERIAL_WIDTH = 6  # 371699-2026-000123; a seventh digit is kept, never cut
# Written by the statement itself (the number, the links to the case); an id is given when set.
_OWN = {"number", "case_id"}


def _given(obj) -> tuple[str, ...]:
    """The names of obj's column attributes that were set, in the mapper's order."""
    state = inspect(obj)
    return tuple(
        attr.key
        for attr in state.mapper.column_attrs
        if attr.key in state.dict and attr.key not in _OWN
    )


def _column(cls, key: str):
    return inspect(cls).column_attrs[key].columns[0]


def _rest(cls, given: tuple[str, ...]) -> list:
    """The columns of cls the statement does not give: read back (the database's defaults)."""
    return [
        attr.columns[0]
        for attr in inspect(cls).column_attrs
        if attr.key not in given and attr.key != "case_id"
    ]


def _binds(cls, prefix: str, given: tuple[str, ...]) -> list:
    """A typed bind per given column, cast to the column's type (in a UNION ALL of parties a
    NULL in every row would otherwise be text)."""
    columns = [_column(cls, key) for key in given]
    return [cast(bindparam(f"{prefix}{c.key}", type_=c.type), c.type) for c in columns]


def _params(obj, prefix: str, given: tuple[str, ...]) -> dict:
    return {f"{prefix}{_column(type(obj), key).key}": getattr(obj, key) for key in given}


def number_sql(last):
    """The case number for serial `last` of the county and year bound: 371699-2026-000123."""
    serial = cast(last, Text)
    return func.format(
        "%s-%s-%s",
        bindparam("county_code"),
        cast(bindparam("year"), Text),
        func.lpad(serial, func.greatest(SERIAL_WIDTH, func.length(serial)), "0"),
    )


def _serial():
    """The serial's upsert (one row per county and year, locked to commit) as a CTE."""
    counters = CaseCounter.__table__
    return (
        insert(counters)
        .values(county_code=bindparam("county_code"), year=bindparam("year"), last=1)
        .on_conflict_do_update(
            index_elements=["county_code", "year"], set_={"last": counters.c.last + 1}
        )
        .returning(counters.c.last)
        .cte("serial")
    )


_SERIAL = _serial()
NEXT_NUMBER = select(number_sql(_SERIAL.c.last))


def next_number(county_code: str, year: int) -> str:
    """The next case number for a county and year, alone (a case made from another, 复查/复核:
    services.py); a report takes it inside its row's statement (`insert_new`)."""
    return db.session.execute(NEXT_NUMBER, {"county_code": county_code, "year": year}).scalar_one()


@functools.lru_cache(maxsize=64)
def _statement(
    case_given: tuple,
    event_given: tuple,
    party_given: tuple,
    parties: int,
    receipt: bool = False,
    audited: bool = False,
):
    """The statement for one shape of report (the columns given, the number of parties, with
    the receipt and the audit entries or not)."""
    counter = _SERIAL
    cases = Case.__table__
    written = (
        insert(cases)
        .from_select(
            [_column(Case, key) for key in case_given] + [cases.c.number],
            select(*_binds(Case, "c_", case_given), number_sql(counter.c.last)),
        )
        .returning(cases.c.id, *(c for c in _rest(Case, case_given) if c.name != "id"))
        .cte("written")
    )
    first = (
        insert(CaseEvent.__table__)
        .from_select(
            [CaseEvent.__table__.c.case_id] + [_column(CaseEvent, key) for key in event_given],
            select(written.c.id, *_binds(CaseEvent, "e_", event_given)),
        )
        .returning(*_rest(CaseEvent, event_given))
        .cte("first_event")
    )
    columns = [written.c[c.name].label(f"case_{c.name}") for c in _rest(Case, case_given)]
    columns += [first.c[c.name].label(f"event_{c.name}") for c in _rest(CaseEvent, event_given)]
    if parties:
        if [c.name for c in _rest(Party, party_given)] != ["id"]:
            raise RuntimeError("a party's columns other than id must all be given")
        rows = [select(written.c.id, *_binds(Party, f"p{i}_", party_given)) for i in range(parties)]
        inserted = (
            insert(Party.__table__)
            .from_select(
                [Party.__table__.c.case_id] + [_column(Party, key) for key in party_given],
                rows[0].union_all(*rows[1:]) if len(rows) > 1 else rows[0],
            )
            .returning(Party.__table__.c.id)
            .cte("parties_written")
        )
        # Ids are drawn row by row in the order written, so id order is the parties' order.
        ids = func.array_agg(aggregate_order_by(inserted.c.id, inserted.c.id))
        columns.append(select(ids).scalar_subquery().label("party_ids"))
    if receipt:
        receipts = Receipt.__table__
        written_receipt = (
            insert(receipts)
            .from_select(
                [
                    receipts.c.number,
                    receipts.c.case_id,
                    receipts.c.code_hash,
                    receipts.c.issued_by_id,
                ],
                select(
                    written.c.number,
                    written.c.id,
                    cast(bindparam("r_code_hash", type_=Text), Text),
                    cast(bindparam("r_issued_by_id", type_=Integer), Integer),
                ),
                include_defaults=False,  # the table's own (created_at, failed_attempts)
            )
            .returning(receipts.c.id)
            .cte("receipt_written")
        )
        columns.append(select(written_receipt.c.id).scalar_subquery().label("receipt_id"))
    if audited:
        # The entries' text with the number where the marker stands (audit.fold_pending).
        entries = func.replace(
            bindparam("audit_entries", type_=Text),
            bindparam("audit_marker", type_=Text),
            written.c.number,
        )
        appended = func.audit_append(cast(entries, JSONB), bindparam("audit_k", type_=BigInteger))
        columns.append(appended.label("audit_appended"))
    statement = select(*columns).select_from(written).join(first, true())
    # What the row answers, by attribute: (attribute, column label) for the case and the event.
    case_back = [(_key_of(Case, c), f"case_{c.name}") for c in _rest(Case, case_given)]
    event_back = [(_key_of(CaseEvent, c), f"event_{c.name}") for c in _rest(CaseEvent, event_given)]
    return statement, case_back, event_back


def new_id() -> int:
    """A case id drawn ahead of the row (the sequence takes no lock): what needs only the id
    (the warning scan's job) is written before the number is taken."""
    return db.session.execute(text("SELECT nextval('cases_id_seq')")).scalar_one()


def insert_new(
    case: Case,
    event: CaseEvent,
    parties: list[Party],
    county_code: str,
    year: int,
    receipt_hash: str | None = None,
    issued_by_id: int | None = None,
    marker: str | None = None,
):
    """Write a new case (no number yet), its first event and its parties, numbered; attach them.

    `case`, `event` and `parties` are transient with their relationships unset (the foreign
    keys to the case are filled here). The instances then hold every column as written.

    `receipt_hash`: the stored hash of the case's receipt (receipts.registration_code), written
    in the same statement, issued by `issued_by_id`. `marker`: the stand-in for the number in
    the audit entries queued (audit.number_marker): they are appended in the same statement
    with the number in its place (or, when kept entries wait for the commit, the number is
    filled in and they wait too). So nothing is sent between the number and the commit.
    """
    masked = freetext.mask_fields(case, new=True) + freetext.mask_fields(event, new=True)
    case_given, event_given = _given(case), _given(event)
    party_given = _given(parties[0]) if parties else ()
    if any(_given(party) != party_given for party in parties):
        raise RuntimeError("every party must give the same columns")
    params = {"county_code": county_code, "year": year}
    params |= _params(case, "c_", case_given) | _params(event, "e_", event_given)
    for i, party in enumerate(parties):
        params |= _params(party, f"p{i}_", party_given)
    folded = audit.fold_pending(db.session()) if marker is not None else None
    if receipt_hash is not None:
        params |= {"r_code_hash": receipt_hash, "r_issued_by_id": issued_by_id}
    if folded is not None:
        params |= {
            "audit_entries": folded["entries"],
            "audit_marker": marker,
            "audit_k": folded["k"],
        }
    statement, case_back, event_back = _statement(
        case_given,
        event_given,
        party_given,
        len(parties),
        receipt_hash is not None,
        folded is not None,
    )
    row = db.session.execute(statement, params).one()._mapping
    if marker is not None and folded is None:
        audit.fill_in(db.session(), marker, row["case_number"])
    for key, label in case_back:
        setattr(case, key, row[label])
    event.case_id = case.id
    for key, label in event_back:
        setattr(event, key, row[label])
    for party, party_id in zip(parties, row["party_ids"] if parties else [], strict=True):
        party.case_id, party.id = case.id, party_id
    if masked:  # the clear text of a title, description or note that held personal data
        freetext.store_originals(db.session.connection(), masked)
    for obj in (case, event, *parties):
        make_transient_to_detached(obj)
        db.session.add(obj)
    set_committed_value(case, "events", [event])
    set_committed_value(case, "parties", list(parties))
    for party in parties:
        set_committed_value(party, "case", case)


def _key_of(cls, column) -> str:
    return inspect(cls).get_property_by_column(column).key
