"""A small world for access tests: two counties, users of every role at every level."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import event
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import User
from app.dispatch.models import Department
from app.extensions import db
from app.geo import services as geo
from app.geo.models import Region
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.geo.factories import box
from tests.geo.factories import build_cells
from tests.geo.factories import build_county
from tests.geo.factories import collection
from tests.geo.factories import feature

PASSWORD = "correct-horse-1"
OTHER_COUNTY = "371698000000"
OTHER_TOWN = "371698101000"
OTHER_VILLAGE = "371698101200"
OTHER_CELL = "371698101200001"
COUNTY = "371699000000"


def build_other_county() -> None:
    """A second county east of the first, for out-of-scope objects."""
    geo.import_geojson(
        collection(feature(OTHER_COUNTY, "邻县", box(118.3, 37.3, 118.5, 37.5))), "county"
    )
    geo.import_geojson(
        collection(feature(OTHER_TOWN, "邻镇", box(118.3, 37.3, 118.4, 37.5), OTHER_COUNTY)),
        "town",
    )
    geo.import_geojson(
        collection(feature(OTHER_VILLAGE, "邻村", box(118.3, 37.3, 118.35, 37.35), OTHER_TOWN)),
        "village",
    )
    geo.import_geojson(
        collection(
            feature(OTHER_CELL, "邻村第1网格", box(118.3, 37.3, 118.35, 37.35), OTHER_VILLAGE)
        ),
        "grid",
    )
    db.session.commit()


@dataclass
class World:
    """Users by key: '<role>@<level>' (e.g. 'mediator@town'), plus 'outsider' in another county.

    Holds ids and loads users afresh, since requests close the test's session between calls.
    """

    user_ids: dict[str, int] = field(default_factory=dict)
    department_ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, key: str) -> User:
        return db.session.get(User, self.user_ids[key])

    def keys(self):
        """The user keys."""
        return self.user_ids.keys()


LEVEL_REGIONS = {"village": VILLAGE, "town": TOWN, "county": COUNTY}


def make_user(username: str, role: str, region: str, cells: list[str] | None = None) -> User:
    """Create and commit a user with the test password."""
    user = accounts.create_user(username, PASSWORD, role, region, username, None, cells or [])
    db.session.commit()
    return user


def make_department(
    code: str,
    region: str = TOWN,
    kind: str = "labour",
    categories: tuple[str, ...] = ("劳资纠纷",),  # not a case category: competent for nothing
    name: str | None = None,
) -> Department:
    """Create and commit a department (职能部门) in a region."""
    place = db.session.scalar(select(Region).where(Region.code == region))
    department = Department(
        code=code,
        name=name or code,
        kind=kind,
        region=place,
        region_code=place.code,
        categories=list(categories),
    )
    db.session.add(department)
    db.session.commit()
    return department


def make_staff(username: str, department: Department, phone: str | None = None) -> User:
    """Create and commit a department_staff user of a department."""
    user = accounts.create_user(
        username,
        PASSWORD,
        "department_staff",
        department.region_code,
        username,
        phone,
        [],
        department_code=department.code,
    )
    db.session.commit()
    return user


def build_world() -> World:
    """Geography of two counties and a user for every role at every level."""
    build_county()
    build_cells()
    build_other_county()
    world = World()
    ids = world.user_ids
    ids["grid_worker@village"] = make_user(
        "gw-village", "grid_worker", VILLAGE, [f"{VILLAGE}001"]
    ).id
    for level, region in LEVEL_REGIONS.items():
        for role in ("mediator", "official", "admin"):
            ids[f"{role}@{level}"] = make_user(f"{role}-{level}", role, region).id
    # A town unit (劳动保障所) with one member of staff: they see only what is sent to it.
    unit = make_department("town-labour", TOWN, name="甲镇人社所")
    ids["department_staff@town"] = make_staff("staff-town", unit).id
    world.department_ids["town-labour"] = unit.id
    ids["outsider"] = make_user("outsider", "grid_worker", OTHER_VILLAGE, [OTHER_CELL]).id
    ids["outsider-admin"] = make_user("outsider-admin", "admin", OTHER_COUNTY).id
    return world


def bearer(user: User, days: int = 30) -> dict:
    """Authorization header with a fresh token for the user."""
    _, secret = accounts.create_token(user, "test", days)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@contextmanager
def statements():
    """The statements sent meanwhile, without the suite's SAVEPOINTs (tests/conftest.py)."""
    sent: list[str] = []

    def seen(_connection, _cursor, statement, *_args) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
