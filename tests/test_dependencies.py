"""Every import declared: the dependency check passes, and fails naming any runtime dependency removed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPTRY = [sys.executable, "-m", "deptry"]


def _requirements():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def _name(requirement):
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()


def test_dependency_check_passes():
    done = subprocess.run(["bash", str(ROOT / "scripts/check_deps.sh"), sys.executable], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("removed", [_name(r) for r in _requirements()])
def test_removing_a_runtime_dependency_fails_naming_it(removed, tmp_path):
    kept = [r for r in _requirements() if _name(r) != removed]
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("\n".join(kept) + "\n", encoding="utf-8")
    done = subprocess.run(DEPTRY + [".", "--requirements-files", str(reqs), "--requirements-files-dev", str(reqs)],
                          cwd=ROOT, capture_output=True, text=True)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    module = re.escape(removed).replace("\\-", "[-_]")  # flask-limiter is imported as flask_limiter
    assert re.search(rf"'{module}' imported but (missing from the dependency definitions|it is a transitive)",
                     output), output


def test_constraints_pin_every_requirement():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    wanted = _requirements() + [r for r in (ROOT / "requirements-dev.txt").read_text().splitlines()
                                if r.strip() and not r.startswith(("#", "-r"))]
    missing = [_name(r) for r in wanted if _name(r).replace("_", "-") not in pins]
    assert not missing, f"constraints.txt lacks {missing}: run scripts/lock.sh"
