"""docs/architecture.md stays true: every module and file it names exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def exists(path: str) -> bool:
    """A file or folder, a module written without .py, or a module's attribute (`x.py`'s f)."""
    path = path.rstrip("/")
    module, _, attr = path.rpartition(".")
    candidates = [ROOT / path, ROOT / f"{path}.py"]
    if module and "/" in module and not path.endswith((".py", ".md", ".html", ".js")):
        candidates.append(ROOT / f"{module}.py")
    return any(c.exists() for c in candidates)


def test_every_path_the_architecture_names_exists():
    """A renamed or removed module fails here until the document follows it."""
    text = DOC.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:app|docs|tests|maps)/[\w/.]*)`", text))
    assert len(paths) > 15
    missing = sorted(p for p in paths if not exists(p))
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"


def test_every_dotted_name_the_architecture_names_imports():
    """`app.x.y` names in the document are real modules or attributes."""
    text = DOC.read_text(encoding="utf-8")
    names = set(re.findall(r"`(app(?:\.\w+)+)[`(]", text))
    for name in sorted(names):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
            break
        else:
            raise AssertionError(f"{name} does not import")
