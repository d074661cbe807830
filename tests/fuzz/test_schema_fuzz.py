"""Schema fuzzing: Schemathesis drives every operation of /api/v1/openapi.json, as every role.

The app is called in-process (WSGI) on a scratch database holding the test world and a few
cases. For each operation and each role (signed out, grid worker, mediator, official, admin)
Schemathesis sends the documented examples, its boundary-value "coverage" cases and a bounded
number of generated requests, valid ones and deliberately invalid ones, and checks that:

- nothing answers 5xx (`not_a_server_error`);
- every status, content type and body is the documented one (`status_code_conformance`,
  `content_type_conformance`, `response_schema_conformance`): the document lists every answer;
- invalid data is refused with a 4xx (`negative_data_rejection`);
- a method the path does not have answers 405 with an Allow header (`unsupported_method`).

The run is deterministic (fixed seed, derandomized, no example database), so CI never flakes:
a failure here reproduces with the same command. FUZZ_EXAMPLES raises the number of generated
requests per operation for a longer local run (`FUZZ_EXAMPLES=200 make test PYTEST_ARGS=...`).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from dataclasses import field

import pytest
import schemathesis
from flask_migrate import upgrade
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import negative_data_rejection
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance
from schemathesis.specs.openapi.checks import unsupported_method
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import MIGRATIONS_DIR
from app import create_app
from app.accounts import services as accounts
from app.config import sqlalchemy_url
from app.extensions import db
from tests.cases.factories import case_body
from tests.conftest import TEST_DATABASE_URL
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.conftest import IsolatedClient
from tests.factories import make_user
from tests.geo.factories import VILLAGE

ROLES = ("anonymous", "grid_worker@village", "mediator@village", "official@town", "admin@county")
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SEED = 20260811
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
]
# Answers that refuse invalid data properly (no 5xx: a server error is never a refusal).
REFUSALS = [400, 401, 403, 404, 405, 409, 413, 415, 422, 428, 429]

# The app exists at import time because Schemathesis builds one test per operation while pytest
# collects; it only connects once the fixture below has created and filled its database.
_base = make_url(sqlalchemy_url(TEST_DATABASE_URL or "postgresql://localhost/unset"))
FUZZ_URL = _base.set(database=f"{_base.database}_fuzz_{os.getpid()}")
APP = create_app(
    {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": FUZZ_URL.render_as_string(hide_password=False),
        "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
    }
)
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # Callers authenticate with the role's real token (below), not generated ones.
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP, config=CONFIG)


@dataclass
class FuzzWorld:
    """Tokens by role, and the ids the fuzzer may aim at or must spare."""

    headers: dict[str, dict] = field(default_factory=dict)
    known: dict[str, list] = field(default_factory=dict)
    spared_users: set[int] = field(default_factory=set)
    spared_tokens: set[int] = field(default_factory=set)
    stand_in_user: int = 0
    stand_in_token: int = 0


@pytest.fixture(scope="module")
def fuzz_world(database_url, fsa_session):
    """A scratch database with the test world, a few cases and a token per role."""
    from tests.factories import build_world

    admin = create_engine(make_url(database_url), isolation_level="AUTOCOMMIT")
    name = FUZZ_URL.database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    saved, db.session = db.session, fsa_session
    fuzz = FuzzWorld()
    try:
        with APP.app_context():
            upgrade(directory=MIGRATIONS_DIR)
            world = build_world()
            for role in ROLES[1:]:
                token, secret = accounts.create_token(world[role], "fuzz", 30)
                db.session.commit()
                fuzz.headers[role] = {"Authorization": f"Bearer {secret}"}
                fuzz.spared_tokens.add(token.id)
            fuzz.headers["anonymous"] = {}
            fuzz.spared_users = set(world.user_ids.values())
            # Destructive calls (deactivate, reset a password, revoke a token) aimed at the
            # users whose tokens the run depends on hit this stand-in instead.
            stand_in = make_user("fuzz-stand-in", "grid_worker", VILLAGE, [f"{VILLAGE}001"])
            token, _ = accounts.create_token(stand_in, "fuzz", 30)
            db.session.commit()
            fuzz.stand_in_user, fuzz.stand_in_token = stand_in.id, token.id
            fuzz.known = seed_cases(fuzz.headers)
            db.session.remove()
        yield fuzz
    finally:
        db.session = saved
        with APP.app_context():
            db.engines[None].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_cases(headers: dict[str, dict]) -> dict[str, list]:
    """Report a case of each kind (one accepted) so that case paths have real targets."""
    client = IsolatedClient(APP, APP.response_class)
    numbers, parties = [], []
    for kind in ("dispute", "petition", "incident"):
        response = client.post(
            "/api/v1/cases", json=case_body(kind), headers=headers["grid_worker@village"]
        )
        assert response.status_code == 201, response.get_json()
        numbers.append(response.get_json()["number"])
        parties += [party["id"] for party in response.get_json()["parties"]]
    accepted = client.post(
        f"/api/v1/cases/{numbers[0]}/actions/accept",
        json={"version": 1},
        headers=headers["mediator@village"],
    )
    assert accepted.status_code == 200, accepted.get_json()
    return {"number": numbers, "party_id": parties}


@pytest.fixture(params=ROLES)
def role(request):
    """Who calls: signed out, or a token of one role at one level."""
    return request.param


@pytest.fixture
def world_session(fuzz_world, fsa_session, monkeypatch):
    """Requests use real connections to the fuzz database (not the test's rolled-back one)."""
    monkeypatch.setattr(db, "session", fsa_session)
    return fuzz_world


def aim(case, world: FuzzWorld) -> None:
    """Spare the run's own users and tokens; point valid requests at existing cases at times."""
    params = case.path_parameters
    if not params:
        return
    if params.get("user_id") in world.spared_users:
        params["user_id"] = world.stand_in_user
    if params.get("token_id") in world.spared_tokens:
        params["token_id"] = world.stand_in_token
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return  # an invalid value must stay invalid
    for name, known in world.known.items():
        if name in params:
            # Deterministic: the same generated value always maps to the same target.
            pick = zlib.crc32(repr(params[name]).encode()) % (2 * len(known))
            if pick < len(known):
                params[name] = known[pick]


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck))
def test_api(case, role, world_session):
    """Every documented operation, as every role: no 5xx, no undocumented answer, no lie."""
    aim(case, world_session)
    case.call_and_validate(headers=world_session.headers[role], checks=CHECKS)
