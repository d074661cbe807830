"""The soak with faults, short: 60 users for 60 s, one immediate restart and a 5 s network cut.

bench/soak.py does the work on a private PostgreSQL cluster of its own in /tmp (never the
cluster the suite runs on, which is neither restarted nor cut off), and removes it again, even
when this test fails or is interrupted. `make soak` runs the full version (200 users, 10 minutes,
two restarts and a 10 s cut) and writes bench/RESULTS.md; this test writes nothing.

The short run seeds the demo county without its two years of history (`--no-history`): the
checks are about the soak's own reports, and tests/test_demo_history.py checks the history's
timelines by the same rule; seeding 3,000 settled cases cost the suite about 20 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
SHORT = ["--users", "60", "--duration", "60", "--restarts", "1", "--cut", "5", "--drain", "30"]
SHORT += ["--no-history"]
TIMEOUT_S = 240  # the run takes about 100 s; past this something hangs


def run_soak(summary: Path) -> subprocess.CompletedProcess:
    """Run bench/soak.py; on a timeout stop it with SIGTERM, so that it cleans up after itself."""
    args = [sys.executable, str(ROOT / "bench" / "soak.py"), *SHORT, "--no-results"]
    proc = subprocess.Popen(
        [*args, "--json", str(summary)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, output.decode(errors="replace"))


def test_soak_with_faults_short(tmp_path, database_url):
    """Nothing acknowledged is lost or doubled; states match timelines; clean 503s; recovery."""
    before = set(Path("/tmp").glob("gg-soak-*"))
    done = run_soak(tmp_path / "soak.json")
    assert (tmp_path / "soak.json").exists(), done.stdout[-3000:]
    s = json.loads((tmp_path / "soak.json").read_text(encoding="utf-8"))
    assert s["failures"] == [], done.stdout[-3000:]
    assert done.returncode == 0, done.stdout[-3000:]
    assert s["reports_acknowledged"] > 50
    assert s["lost"] == 0 and s["duplicated"] == 0 and s["key_mismatch"] == 0
    assert s["reports_unresolved"] == 0
    assert s["cases_checked"] >= s["reports_acknowledged"]
    assert s["unexplained_states"] == 0
    assert s["audit_verified"], s["audit_output"]
    assert [f["kind"] for f in s["faults"]] == ["restart", "cut"]
    assert all(f["recovery_s"] is not None and f["recovery_s"] <= 30 for f in s["faults"])
    outcomes = s["outcomes"]
    assert outcomes["5xx"] == outcomes["503_nonstandard"] == outcomes["connection"] == 0
    # The private cluster is gone, and the suite's own database was never disturbed.
    assert set(Path("/tmp").glob("gg-soak-*")) - before == set()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
