"""Reproducible experiments: one command each (``openbanana experiment <name>``).

An experiment is three layers, kept apart so that the expensive part is the only impure one:

- its **definition** (pure dataclasses: arms, budgets, the plan of training jobs and runs), e.g.
  :mod:`openbanana.experiments.pretraining_ablation`;
- the **runner** (:mod:`openbanana.experiments.runner`): trains every job once, resumes killed
  ones, scores each run and writes ``OUT/runs/<arm>/seed<k>.json``;
- the **report** (:mod:`openbanana.experiments.report`): tables with intervals over seeds, plots.

:data:`EXPERIMENTS` maps a command name to its :class:`Experiment` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openbanana.experiments import pretraining_ablation as pa
from openbanana.registry import Registry


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes:
        name: the subcommand (``openbanana experiment <name>``).
        summary: one line for ``--help``.
        make_plan: ``(budget name or minutes, base config path, seeds, arms) -> Plan`` (pure).
        budgets: the named budgets (``quick``, ``default``).
    """

    name: str
    summary: str
    make_plan: Callable[..., Any]
    budgets: tuple[str, ...]


#: experiment name -> :class:`Experiment`
EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def _register_builtin() -> None:
    EXPERIMENTS.register("pretraining-ablation", Experiment(
        name="pretraining-ablation",
        summary="Does generation pretraining make the generalist? (issue 17)",
        make_plan=pa.make_plan, budgets=tuple(pa.BUDGETS.names())))


_register_builtin()
