"""Measures per department (docs/measures.md): each rate's numerator and denominator, in scope."""

from __future__ import annotations

import datetime as dt

from app.cases import services
from app.cases.models import FollowUp
from app.core.clock import SHANGHAI
from app.dispatch.models import Dispatch
from app.extensions import db
from tests.accounts.helpers import login
from tests.cases.factories import POINT
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import case_body
from tests.factories import OTHER_COUNTY
from tests.factories import TOWN
from tests.factories import bearer
from tests.factories import make_department

PERIOD = "from=2026-11-01&to=2026-11-30"


def at(day: int, month: int = 11) -> dt.datetime:
    """Noon (Asia/Shanghai) of a day of 2026."""
    return dt.datetime(2026, month, day, 12, tzinfo=SHANGHAI)


def dispatch(case_id: int, department_id: int, by_id: int, sent: dt.datetime, **values) -> None:
    """A dispatch row as the dispatch steps leave it (inserted directly)."""
    values.setdefault("role", "lead")
    values.setdefault("state", "accepted")
    db.session.add(
        Dispatch(
            case_id=case_id,
            department_id=department_id,
            centre_level="town",
            dispatched_by_id=by_id,
            dispatched_at=sent,
            **values,
        )
    )


def test_department_measures_count_each_rate_in_scope(client, world):
    """签收及时率, 按期办结率, 退回率, 重办率 and 满意率 of the town's units over November, with
    their parts; a unit of another county never shows; 0/0 is “—” on the workbench."""
    labour = world.department_ids["town-labour"]
    police = make_department("town-police", TOWN, kind="police", name="甲镇派出所").id
    far = make_department("far-labour", OTHER_COUNTY, name="丙县劳动监察大队").id
    worker, by = world["grid_worker@village"], world.user_ids["mediator@town"]
    town_id = world["mediator@town"].region_id
    cases = [services.report({**case_body(), **POINT}, worker).id for _ in range(6)]
    far_case = services.report({**case_body(), **POINT_OTHER_COUNTY}, world["outsider"]).id
    common = {"centre_region_id": town_id}
    # 甲镇人社所 (labour):
    # a: signed on time, reported on time, accepted; 满意
    dispatch(cases[0], labour, by, at(2), signed_at=at(2), signed_on_time=True,
             reported_at=at(5), reported_on_time=True, reviewed_at=at(6), **common)  # fmt: skip
    # b: signed late, reported late after one 重办, accepted; 不满意
    dispatch(cases[1], labour, by, at(3), signed_at=at(5), signed_on_time=False,
             reported_at=at(20), reported_on_time=False, redo_count=1, reviewed_at=at(21),
             **common)  # fmt: skip
    # c: a co-handler still working (open), signed on time
    dispatch(cases[2], labour, by, at(4), role="co", state="signed", signed_at=at(4),
             signed_on_time=True, **common)  # fmt: skip
    # d: returned (not its remit) before signing
    dispatch(cases[3], labour, by, at(6), state="returned", returned_at=at(7), **common)
    # e: kept informed (抄告): in no rate, not open work
    dispatch(cases[3], labour, by, at(8), role="informed", state="sent", **common)
    # f: sent in October, signed then; reported on time in November
    dispatch(cases[4], labour, by, at(20, 10), signed_at=at(20, 10), signed_on_time=True,
             reported_at=at(10), reported_on_time=True, reviewed_at=at(11), **common)  # fmt: skip
    # 甲镇派出所 (police): only a follow-up to count, 基本满意
    dispatch(cases[5], police, by, at(1), reported_at=at(2), reviewed_at=at(3), **common)
    # The other county's unit: never in this town's answer.
    dispatch(far_case, far, by, at(2), signed_at=at(2), signed_on_time=True, **common)
    for case_id, day, answer in (
        (cases[0], 8, "satisfied"),
        (cases[1], 22, "dissatisfied"),
        (cases[5], 9, "basically_satisfied"),
        (cases[5], 2, "satisfied"),  # before the unit's report was accepted: not the unit's
        (far_case, 9, "satisfied"),
    ):
        db.session.add(
            FollowUp(case_id=case_id, by_id=by, method="phone", satisfaction=answer, at=at(day))
        )
    db.session.commit()

    answer = client.get(
        f"/api/v1/metrics?region={TOWN}&{PERIOD}", headers=bearer(world["official@town"])
    )
    assert answer.status_code == 200, answer.get_json()
    units = {d["code"]: d for d in answer.get_json()["departments"]}
    assert set(units) == {"town-labour", "town-police"}

    def parts(code: str, key: str) -> tuple[int, int]:
        m = units[code]["measures"][key]
        return m["numerator"], m["denominator"]

    assert parts("town-labour", "on_time_signing") == (2, 3)  # a, c on time; b late
    assert parts("town-labour", "on_time_report") == (2, 3)  # a, f on time; b late
    assert parts("town-labour", "return_rate") == (1, 4)  # d of a, b, c, d
    assert parts("town-labour", "redo_rate") == (1, 3)  # b of a, b, f
    assert parts("town-labour", "satisfaction") == (1, 2)  # a 满意, b 不满意
    assert units["town-labour"]["measures"]["on_time_signing"]["rate"] == 0.6667
    assert units["town-labour"]["open"] == 1
    assert parts("town-police", "satisfaction") == (1, 1)
    assert parts("town-police", "on_time_signing") == (0, 0)
    assert units["town-police"]["measures"]["on_time_signing"]["rate"] is None
    assert units["town-labour"]["region"]["code"] == TOWN

    # A village's official has no unit in scope; a county's sees the town's units.
    village = client.get(f"/api/v1/metrics?{PERIOD}", headers=bearer(world["official@village"]))
    assert village.get_json()["departments"] == []
    county = client.get(f"/api/v1/metrics?{PERIOD}", headers=bearer(world["official@county"]))
    assert {d["code"] for d in county.get_json()["departments"]} == {"town-labour", "town-police"}

    assert login(client, world["official@town"].username).status_code == 302
    page = client.get(f"/workbench?region={TOWN}&{PERIOD}").get_data(as_text=True)
    table = page[page.index('id="department-measures"') :]
    table = table[: table.index("</table>")]
    labour_row = table[table.index('data-department="town-labour"') :].split("</tr>")[0]
    assert "66.7%" in labour_row and "(2/3)" in labour_row and "(1/4)" in labour_row
    police_row = table[table.index('data-department="town-police"') :].split("</tr>")[0]
    assert '<td class="num" data-label="签收及时率" data-measure="on_time_signing">— ' in police_row
    assert "(0/0)" in police_row and "100.0%" in police_row
    assert "far-labour" not in page
