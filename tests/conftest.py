"""Suite-wide hooks: tests that need Debian's Chromium are left out, with one line saying so, where
it is missing (``.ci/run`` installs it, so CI always runs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
_left_out: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    keep = [it for it in items if it.get_closest_marker("browser") is None]
    dropped = [it for it in items if it.get_closest_marker("browser") is not None]
    if dropped:
        _left_out.extend(it.nodeid for it in dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _left_out:
        terminalreporter.write_line(
            f"{len(_left_out)} browser tests not run: no {CHROMIUM} "
            "(`apt-get install -y chromium` enables them; .ci/run installs it)")
