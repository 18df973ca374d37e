"""The arms of the generation-pretraining ablation as pure data: steps, vision shares, the init_from
chain, shared jobs, seeds, budgets (no training here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openbanana.experiments import EXPERIMENTS
from openbanana.experiments.pretraining_ablation import (
    BUDGETS,
    DEFAULT_MINUTES,
    PRETRAIN_SEED_OFFSET,
    TASK_METRICS,
    VISION_SHARES,
    digest,
    load_recipe,
    make_plan,
    resolve_budget,
)
from openbanana.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "default-cpu.json"


@pytest.fixture(scope="module")
def plan():
    return make_plan("default", BASE)


def _runs(plan, seed=0):
    return {r.arm: r for r in plan.runs if r.seed == seed}


def _stage(plan, run):
    cfg = plan.jobs[run.job].config
    assert len(cfg["stages"]) == 1
    return cfg["stages"][0]


def test_registered():
    assert "pretraining-ablation" in EXPERIMENTS
    assert set(EXPERIMENTS.get("pretraining-ablation").budgets) == {"quick", "default", "long"}


def test_every_arm_and_seed(plan):
    names = [a.name for a in plan.arms]
    assert names[:4] == ["untrained", "pretrained", "scratch", "vision-only"]
    assert {f"specialist-{t}" for t in TASK_METRICS} <= set(names)
    assert {f"head-{t}" for t in TASK_METRICS if t != "instance"} <= set(names) and "head-instance" not in names
    assert {"share-1", "share-5", "share-10", "share-20", "share-50"} <= set(names)
    assert {"pretrain-0", "pretrain-25", "pretrain-50", "pretrain-100"} <= set(names)
    assert len(plan.runs) == len(names) * 3
    assert sorted({r.seed for r in plan.runs}) == [0, 1, 2]


def test_generalists_equal_steps_and_vision_samples(plan):
    runs = _runs(plan)
    n = plan.budget.instruct_steps
    pre, scratch = _stage(plan, runs["pretrained"]), _stage(plan, runs["scratch"])
    assert pre["steps"] == scratch["steps"] == n == 276
    assert pre["data"] == scratch["data"]
    assert pre["data"]["vision_share"] == 0.75
    # the only difference between them is the initialisation
    a, b = dict(plan.jobs[runs["pretrained"].job].config), dict(plan.jobs[runs["scratch"].job].config)
    assert a.pop("init_from") == f"train/{runs['pretrained'].pretrain_job}" and b.pop("init_from") is None
    a.pop("snapshot_every"), b.pop("snapshot_every")
    assert a == b


def test_vision_only_sees_the_generalists_vision_samples(plan):
    runs = _runs(plan)
    st = _stage(plan, runs["vision-only"])
    assert st["data"]["vision_share"] == 1.0
    assert st["steps"] * 1.0 == pytest.approx(_stage(plan, runs["scratch"])["steps"] * 0.75)
    assert runs["vision-only"].init is None


def test_specialists_see_the_generalists_samples_of_their_task(plan):
    runs = _runs(plan)
    recipe = load_recipe(BASE)
    total = sum(recipe.weights.values())
    n = plan.budget.instruct_steps
    steps = {}
    for task in TASK_METRICS:
        r = runs[f"specialist-{task}"]
        st = _stage(plan, r)
        assert st["data"]["vision_share"] == 1.0
        assert st["data"]["vision_weights"] == {task: 1.0}
        assert r.tasks == (task,) and r.init is None
        assert st["steps"] == round(n * 0.75 * recipe.weights[task] / total)
        steps[task] = st["steps"]
    assert steps == {"depth": 30, "normals": 30, "semantic": 44, "instance": 30, "referring": 44, "reasoning": 30}


def test_head_specialists_differ_from_their_colour_twin_only_in_the_output(plan):
    runs = _runs(plan)
    for task in ("depth", "normals", "semantic", "referring", "reasoning"):
        colour, head = plan.jobs[runs[f"specialist-{task}"].job], plan.jobs[runs[f"head-{task}"].job]
        assert colour.generates and colour.tasks is None
        assert not head.generates and head.tasks == (task,)
        c, h = colour.config, head.config
        assert h["backend"] == "task-head" and h["backend_config"]["task"] == task
        assert h["backend_config"]["backbone"] == c["backend_config"]
        assert h["objective"]["p_drop_text"] == h["objective"]["p_drop_image"] == 0.0
        same = {k: v for k, v in h.items() if k not in ("backend", "backend_config", "objective")}
        assert same == {k: v for k, v in c.items() if k not in ("backend", "backend_config", "objective")}
        assert runs[f"head-{task}"].steps == runs[f"specialist-{task}"].steps


def test_vision_share_arms_equal_steps(plan):
    runs = _runs(plan)
    for s in VISION_SHARES:
        r = runs[f"share-{s * 100:g}"]
        st = _stage(plan, r)
        assert st["steps"] == plan.budget.instruct_steps
        assert st["data"]["vision_share"] == s
        assert r.init == runs["pretrained"].init  # the full pretraining


def test_pretraining_chain(plan):
    runs = _runs(plan)
    P = plan.budget.pretrain_steps
    pre_key = runs["pretrained"].pretrain_job
    pre = plan.jobs[pre_key]
    assert pre.kind == "pretrain" and pre.steps == P
    assert pre.config["stages"][0]["data"]["vision_share"] == 0.0
    assert pre.config["init_from"] is None
    assert pre.config["snapshot_every"] == P // 4 and set(pre.snapshot_steps) == {P // 4, P // 2}
    assert runs["pretrain-25"].init == f"train/{pre_key}/snapshots/step_{P // 4:07d}"
    assert runs["pretrain-50"].init == f"train/{pre_key}/snapshots/step_{P // 2:07d}"
    assert runs["pretrain-25"].pretrain_steps == P // 4
    assert plan.jobs[runs["pretrain-25"].job].depends_on == pre_key
    # 0 % and 100 % of the pretraining are the scratch and pretrained arms: one job each
    assert runs["pretrain-0"].job == runs["scratch"].job
    assert runs["pretrain-100"].job == runs["pretrained"].job
    # one pretraining per seed, trained before the jobs that start from it
    keys = list(plan.jobs)
    pretrains = [k for k in keys if plan.jobs[k].kind == "pretrain"]
    assert len(pretrains) == 3
    assert max(keys.index(k) for k in pretrains) < min(keys.index(k) for k in keys if k not in pretrains)


def test_same_architecture_resolution_batch_and_seeds(plan):
    b = plan.budget
    for job in plan.jobs.values():
        c = job.config
        backbone = c["backend_config"].get("backbone", c["backend_config"])  # a task head's backbone
        assert backbone == {"size": "fold-w"} and c["resolution"] == 64 and c["batch_size"] == 16
        # seed k: every instruction job trains with seed k, the pretraining with k + 500 (its own scenes)
        assert c["seed"] == job.seed + (PRETRAIN_SEED_OFFSET if job.kind == "pretrain" else 0)
        assert job.key.startswith(f"{job.kind}-seed{job.seed}-")
        assert c["max_minutes"] is None and all(s["max_minutes"] is None for s in c["stages"])
        TrainConfig.from_dict(c)  # every job is a valid training config
    for r in plan.runs:
        assert plan.jobs[r.job].seed == r.seed
        if r.pretrain_job:
            assert plan.jobs[r.pretrain_job].seed == r.seed
    # 24 arms, 2 of them shared: 21 instruction jobs and the untrained reference per seed
    assert sum(j.kind == "instruct" for j in plan.jobs.values()) == 21 * b.seeds
    assert sum(j.kind == "init" and j.steps == 0 for j in plan.jobs.values()) == b.seeds


def test_curves_only_for_the_generalists(plan):
    runs = _runs(plan)
    assert plan.jobs[runs["pretrained"].job].snapshot_steps == (69, 138, 207)
    assert plan.jobs[runs["pretrained"].job].config["snapshot_every"] == 69
    assert plan.jobs[runs["share-10"].job].config["snapshot_every"] == 0


def test_default_budget_fits_three_hours(plan):
    est = plan.estimate_minutes()
    assert est["total"] <= 180
    assert plan.total_steps() == 3 * 3633
    assert "min" in plan.describe()


def test_decaying_pretraining_gets_separate_jobs():
    d = json.loads(BASE.read_text())
    d["stages"][0]["min_lr_ratio"] = 0.1
    plan = make_plan("default", d, seeds=1)
    runs = _runs(plan)
    P = plan.budget.pretrain_steps
    assert plan.jobs[runs["pretrain-25"].pretrain_job].steps == P // 4
    assert plan.jobs[runs["pretrain-50"].pretrain_job].steps == P // 2
    assert runs["pretrain-25"].init == f"train/{runs['pretrain-25'].pretrain_job}"
    assert sum(j.kind == "pretrain" for j in plan.jobs.values()) == 3


def test_quick_budget_and_arm_selection():
    q = make_plan("quick", BASE)
    assert [a.name for a in q.arms] == list(BUDGETS.get("quick")().arms)
    assert q.budget.seeds == 1 and q.budget.resolution == 32
    assert {j.config["backend_config"].get("backbone", j.config["backend_config"])["size"]
            for j in q.jobs.values()} == {"tiny-xs"}
    fam = make_plan("quick", BASE, arms=["specialist", "scratch"], seeds=2)
    assert [a.name for a in fam.arms] == ["scratch"] + [f"specialist-{t}" for t in TASK_METRICS]
    assert len(fam.runs) == 14
    assert not any(j.kind == "pretrain" for j in fam.jobs.values())


def test_budget_minutes_scale_the_steps():
    b = resolve_budget("90")  # 90 / DEFAULT_MINUTES of the default's steps, in multiples of 4
    assert b.name == "90min" and b.instruct_steps == 212 and b.pretrain_steps == 424
    assert resolve_budget(str(DEFAULT_MINUTES)).instruct_steps == 276


def test_long_budget_shares_the_default_pretraining():
    d, long = make_plan("default", BASE), make_plan("long", BASE)
    assert [a.name for a in long.arms] == ["untrained", "pretrained", "scratch"]
    assert long.budget.instruct_steps == 3 * d.budget.instruct_steps
    pre = {k for k, j in long.jobs.items() if j.kind != "instruct"}
    assert pre and pre <= set(d.jobs)  # the same pretraining and initialisation jobs
    for bad in ("fast", "-5", "0", "nan"):
        with pytest.raises(ValueError, match="budget"):
            resolve_budget(bad)


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown arm"):
        make_plan("quick", BASE, arms=["nope"])
    with pytest.raises(ValueError, match="seeds"):
        make_plan("quick", BASE, seeds=0)
    one_stage = json.loads(BASE.read_text())
    one_stage["stages"] = one_stage["stages"][1:]
    with pytest.raises(ValueError, match="pretraining stage"):
        make_plan("quick", one_stage)


def test_digest_ignores_bookkeeping():
    c = make_plan("quick", BASE).jobs
    cfg = next(iter(c.values())).config
    assert digest(cfg) == digest({**cfg, "snapshot_every": 7, "num_workers": 3, "ckpt_every": 1})
    assert digest(cfg) != digest({**cfg, "seed": 99})
