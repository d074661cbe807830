"""The code passes ruff (check and format), as `make lint` runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ruff() -> str:
    """The ruff beside this interpreter, or on PATH."""
    candidate = Path(sys.executable).parent / "ruff"
    return str(candidate) if candidate.exists() else (shutil.which("ruff") or "ruff")


def test_ruff_check():
    """No lint findings."""
    result = subprocess.run([ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    """Formatted as ruff format would."""
    result = subprocess.run(
        [ruff(), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
