"""The worker server's preload: importing it does, once, what each graded submission's process would otherwise do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autograder.grading import preload
from tests.conftest import ROOT


def _fresh(code: str) -> object:
    """What ``code`` (run in a new interpreter, as the worker server is) prints as JSON."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


PRELOADED = [*(f"_pytest.{name}" for name in preload.PYTEST_PLUGINS), *preload.ALSO_IMPORTED]


def test_importing_it_imports_the_plugins_and_modules_and_compiles_the_validator() -> None:
    seen = _fresh(f"""
import json, sys
import pytest, nbformat, nbformat.validator
names = {PRELOADED!r}
before = [n for n in names if n in sys.modules]
validators_before = len(nbformat.validator.validators)
import autograder.grading.preload
print(json.dumps({{"before": before, "after": [n for n in names if n in sys.modules],
                  "validators": [[str(part) for part in key] for key in nbformat.validator.validators],
                  "validators_before": validators_before, "version": nbformat.current_nbformat}}))
""")
    assert isinstance(seen, dict)
    assert seen["after"] == PRELOADED
    assert seen["before"] == [], "pytest imports these only when a session starts (else preloading gains nothing)"
    assert seen["validators_before"] == 0
    assert [key[1] for key in seen["validators"]] == [str(seen["version"])]  # the current format's, compiled


def test_each_preloaded_pytest_plugin_is_one_a_grading_session_imports(tmp_path: Path) -> None:
    (tmp_path / "cell_0.py").write_text("def test_one():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    imported = _fresh(f"""
import json, sys
import pytest
before = set(sys.modules)
code = pytest.main([{str(tmp_path)!r}, "-p", "no:cacheprovider", "-p", "no:terminal", "--assert=plain",
                    "--disable-plugin-autoload", "-o", "python_files=cell*.py", "-o", "addopts=",
                    "--rootdir", {str(tmp_path)!r}])
print(json.dumps({{"code": int(code), "new": sorted(set(sys.modules) - before)}}))
""")
    assert isinstance(imported, dict) and imported["code"] == 0
    plugins = {f"_pytest.{name}" for name in preload.PYTEST_PLUGINS}
    assert plugins <= set(imported["new"]), sorted(plugins - set(imported["new"]))


def test_warm_up_again_changes_nothing() -> None:
    import nbformat.validator

    compiled = dict(nbformat.validator.validators)
    preload.warm_up()
    assert nbformat.validator.validators == compiled
    assert all(name in sys.modules for name in PRELOADED)
