"""The scorer registry: every task is scored, and each entry agrees with the scorer it makes."""

from __future__ import annotations

import numpy as np
import pytest

from openbanana.data.sources.base import Target
from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
from openbanana.evaluation.scoring import SCORERS, Column, scorings_of
from openbanana.tasks import task_names


def test_every_task_has_a_scorer_and_variants_follow_their_task():
    assert all(scorings_of(t) and scorings_of(t)[0].name == t for t in task_names())
    assert [s.name for s in scorings_of("semantic")] == ["semantic", "semantic-random"]
    assert BENCHMARKS.get("synthetic-val").tasks == tuple(s.name for t in task_names() for s in scorings_of(t))


@pytest.mark.parametrize("name", SCORERS.names())
def test_entry_states_its_scorers_primary_metric_and_direction(name):
    scoring = SCORERS.get(name)
    scorer = scoring.synthetic(BenchmarkOptions())
    assert scorer.primary == scoring.primary == scoring.columns[0].metric
    assert scorer.higher_is_better == scoring.higher_is_better
    assert scorer.protocol()["primary_metric"] == scoring.primary


def test_a_perfect_answer_fills_every_column():
    scorer = SCORERS.get("referring").synthetic(BenchmarkOptions())
    mask = np.zeros((1, 8, 8), bool)
    mask[0, 2:5, 3:6] = True
    scorer.update(0, Target(task="referring", gt=mask), mask)
    result = scorer.compute()
    assert [c.say(result[c.metric]) for c in SCORERS.get("referring").columns] == ["cIoU 1.00", "gIoU 1.00"]
    assert Column("mean", "mean°", "mean angle").say(3.14159) == "mean angle 3.14"
