"""Native fixture tests for a rule under pytest: every NAME.input.json in a folder is run
through the rule's Python source (the host log replaced by a double) and compared with
NAME.expected.json — the same files `verdict rules test` runs on the built wasm.

    # test_fixtures.py
    from verdict_rules.testing import fixture_test
    test_fixtures = fixture_test("app.py", "fixtures")
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Callable

import verdict_rules  # noqa: F401  (generates the bindings natively)
from wit_world.imports import host

from .fixtures import check, decide, to_guest

#: What rules logged while running natively: (level name, message).
LOG: list[tuple[str, str]] = []


def _log(level: Any, message: str) -> None:
    LOG.append((level.name.lower(), message))


host.log = _log


def load_rule(path: str | Path) -> Any:
    """Imports a rule's module from its file."""
    path = Path(path).resolve()
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"verdict_rule_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_fixtures(rule: str | Path, folder: str | Path) -> list[tuple[str, list[str]]]:
    """(fixture name, mismatches) for every fixture in `folder`."""
    module = load_rule(rule)
    folder = Path(folder)
    names = sorted(p.name[: -len(".input.json")] for p in folder.glob("*.input.json"))
    if not names:
        raise FileNotFoundError(f"no *.input.json fixtures in {folder}")
    results = []
    for name in names:
        fixture = json.loads((folder / f"{name}.input.json").read_text())
        expected = json.loads((folder / f"{name}.expected.json").read_text())
        kind, data = to_guest(fixture)
        results.append((name, check(expected, decide(module, kind, data))))
    return results


def fixture_test(rule: str, folder: str) -> Callable[[str], None]:
    """A pytest test with one case per fixture; paths relative to the calling test file."""
    import pytest

    base = Path(sys._getframe(1).f_globals["__file__"]).resolve().parent
    folder_path = base / folder
    names = sorted(p.name[: -len(".input.json")] for p in folder_path.glob("*.input.json"))
    if not names:
        raise FileNotFoundError(f"no *.input.json fixtures in {folder_path}")
    module = load_rule(base / rule)

    @pytest.mark.parametrize("fixture", names)
    def test(fixture: str) -> None:
        data = json.loads((folder_path / f"{fixture}.input.json").read_text())
        expected = json.loads((folder_path / f"{fixture}.expected.json").read_text())
        kind, input = to_guest(data)
        errors = check(expected, decide(module, kind, input))
        assert not errors, "\n".join(errors)

    return test
