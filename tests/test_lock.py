"""The lock file that `make` and CI install from: complete, exact, and inside pyproject's ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"requirements.lock: {line!r} is not an exact 'name==version' pin"
        pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra if not r.startswith("openbanana[")]
    return reqs


def test_every_dependency_is_pinned_inside_its_range():
    pins = _lock()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock (run `make lock`)"
        version = pins[name]
        # the CPU build's local label (2.13.0+cpu) satisfies the range of its public version
        assert req.specifier.contains(Version(version.public), prereleases=True), (
            f"requirements.lock pins {req.name}=={version}, outside pyproject's {req.specifier}")


def test_the_lock_pins_the_installer_itself():
    pins = _lock()
    for tool in ("pip", "setuptools", "wheel", "torch"):
        assert tool in pins, f"requirements.lock must pin {tool} (make installs it from there)"
    assert pins["torch"].public == "2.13.0"


def test_makefile_installs_from_the_lock_and_runs_every_test():
    make = (ROOT / "Makefile").read_text()
    assert "-r requirements.lock" in make
    assert "--no-deps" in make and "--no-build-isolation" in make  # nothing resolved outside the lock
    test_rule = make.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert " -x" not in test_rule, "make test must run every test, not stop at the first failure"
