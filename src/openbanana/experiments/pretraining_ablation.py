"""Does generation pretraining make the generalist? The arms of issue 17, as pure definitions.

Every arm is the default CPU recipe (``configs/default-cpu.json``: a generation-pretraining stage
with ``vision_share 0``, then an instruction stage with ``vision_share 0.75``) at one architecture,
one resolution and one batch size, changed in one thing only:

================== ============================================================================
arm                what changes
================== ============================================================================
untrained          no training at all: the random initialisation, whose zero-initialised output
                   layer draws mid-grey for every request; the floor every score is read against
pretrained         the recipe: pretraining, then instruction tuning at the recipe's share s_ref
scratch            the same instruction tuning from random initialisation (no pretraining)
vision-only        from scratch, vision samples only (``vision_share 1``)
specialist-<task>  from scratch, one model per task, that task's colour code only
head-<task>        ``specialist-<task>`` as a plain regression / classification head on the same
                   backbone (:mod:`openbanana.backends.task_head`): the task's numbers, no colours
share-<p>          ``pretrained`` with p % vision (1, 5, 10, 20, 50)
pretrain-<p>       ``pretrained`` from p % of the pretraining steps (0, 25, 50, 100)
================== ============================================================================

Equal budgets: which quantity is held fixed
-------------------------------------------
With a vision share ``s``, a run of ``n`` steps at batch ``B`` sees ``n * B * s`` vision samples, so
equal steps and equal vision samples can only both hold between arms of the same share. The choice
per arm (``Arm.steps_policy``, :data:`STEP_POLICIES`), with ``N`` the budget's instruction steps:

- ``pretrained``, ``scratch``, ``pretrain-*``: the recipe's share, ``N`` steps: equal steps *and*
  equal vision samples (the controlled comparison of the issue: only the initialisation differs).
- ``vision-only``: equal vision samples, ``N * s_ref`` steps (``equal_vision_samples``). It sees the
  generalists' vision data and nothing else, so it answers "do the generation samples mixed in
  help?"; with equal steps it would see 1/s_ref more vision samples than the arms it is compared to.
- ``specialist-<task>``: equal samples *of its task* (``equal_task_samples``): ``N * s_ref * w_t /
  sum(w)`` steps, exactly the number of ``t`` samples the generalist saw (``w``: the recipe's
  ``vision_weights``). Six specialists together cost what ``vision-only`` costs. The alternative
  (each specialist ``N`` steps: 6x the compute, ~7x the task's samples) is the budget's
  ``specialist_policy = "equal_steps"``.
- ``share-<p>``: equal steps (``N``), so the vision samples scale with ``p``. Equal vision samples
  would need ``N * s_ref / s`` steps, 75x ``N`` at 1 %: unaffordable, and not the question the arm
  asks (at a fixed training budget, how small may the vision share be?). Every run records the
  vision samples it saw, so the report can put scores against them too.

- ``head-<task>``: the ``specialist-<task>`` job (same steps, samples, seed and backbone) with the
  backbone's output layer replaced by the task's plain head (log depth with an L1 loss, unit normals
  with a cosine loss, class logits with cross-entropy, one mask logit per target with binary
  cross-entropy; :mod:`openbanana.backends.task_head`). The head's targets are the same samples'
  drawings read back by the task's decoder, so the two arms differ only in the output formulation:
  the colour code (a generator's image, mean squared error) against the task's own quantities.
  Instance segmentation has no plain head (a variable number of instances does not fit fixed output
  channels), so there is no ``head-instance``. Heads cannot generate: their runs have no generation
  loss and score only their task.

Seeds and data: seed ``k`` seeds the weights, the noise and the data of every instruction job of
that seed. Sample ``i`` of a stream depends only on ``(seed, i)`` (:mod:`openbanana.data.mixture`), so
``pretrained`` and ``scratch`` see exactly the same vision samples in the same order, and every arm
draws its samples from the same scenes. The pretraining of seed ``k`` runs with seed ``k + 500``
(:data:`PRETRAIN_SEED_OFFSET`): its generation samples come from other scenes, as in the recipe,
whose two stages read separate streams.

Pretraining is shared: every arm of one seed that starts from the same pretraining reuses one
pretraining job (``init_from``). The recipe's pretraining learning rate is constant after warm-up
(``min_lr_ratio 1``), so a run's snapshot at step ``f * P`` *is* a pretraining of ``f * P`` steps: the
``pretrain-25`` / ``pretrain-50`` arms start from snapshots of the full pretraining. A base config
whose pretraining learning rate decays gets separate, shorter pretraining jobs instead. Jobs are
keyed by a digest of everything that changes their weights, so arms whose configs coincide
(``pretrain-0`` is ``scratch``, ``pretrain-100`` is ``pretrained``) are trained and scored once.

Budgets (:data:`BUDGETS`)
-------------------------
``quick`` (the test suite, about a minute of CPU time): a 0.27 M-parameter ``tiny-xs`` at 32 px,
4 steps per stage, 1 seed, 1 scene per split, a reduced arm set (one arm of every family).

``default`` (every arm, 3 seeds; measured **118 min** on these 2 CPU cores): ``fold-w`` (7.7 M
parameters, the shipped model's architecture and word tokenizer) at **64 px**, batch 16,
``P = 556`` pretraining and ``N = 276`` instruction steps. At 128 px a step costs ~3x as much
(``fold-w`` trains at ~9 img/s at 128 px here, 26.8 img/s at 64 px), so 3 hours would buy ~100
instruction steps per arm. 64 px keeps the scenes' layout and every task (the referring targets are
the smallest thing, and get coarse). The plan, per seed::

    pretraining (shared, snapshots at 139 / 278)                556 steps
    pretrained, scratch                                 2 x 276 = 552
    vision-only (276 x 0.75)                                    207
    6 colour-code specialists (30, 30, 44, 30, 44, 30)          208
    5 plain-head specialists (no instance)                      178
    share-1, -5, -10, -20, -50                          5 x 276 = 1380
    pretrain-25, pretrain-50 (0 and 100 are shared)     2 x 276 = 552
    untrained (scored, never trained)                             0
    ---------------------------------------------------------------
                                                          3,633 steps = 58.1 k images

Measured on 2026-12-06 (2 CPU cores, one render worker): pretraining 5.8-6.1 min per seed, the
instruction jobs 26.8 img/s on average (23.4-28.5), 31 min of instruction training per seed;
scoring is fast at 64 px (~0.17 s per scene and split, 1.3 min per seed); generation losses,
sample sheets, curves and start-up add ~3 min per seed. About 40 min per seed: the whole run took
**118 min** of wall-clock time (06:34-08:32 UTC, two resumes included; :data:`DEFAULT_MINUTES`). The budget was first sized from an assumed 30 img/s with ``P = 832``,
``N = 416``; the measured rate, plus the plain-head arms, made that ~3.4 hours, so the default is
the run that was measured (started as ``--budget 120``, whose steps it has). ``--budget
<minutes>`` scales ``N`` and ``P`` by ``minutes / DEFAULT_MINUTES``; ``--plan`` prints the estimate.

``long``: ``untrained``, ``pretrained`` and ``scratch`` at 3x the instruction steps (``N = 828``),
with the default's pretraining jobs (a default run's are reused when copied into ``OUT/train``);
~17 min per seed here once the pretraining exists.

On a GPU the same command runs unchanged (the trainer picks CUDA). It has not been timed on one (no
GPU was lent to this work); a 7.7 M-parameter model at 64 px leaves a GPU mostly idle, so the
renderer (one worker) becomes the limit there: raise ``num_workers`` in the base config, and spend
the speed on a larger ``--budget <minutes>`` (more steps per arm) rather than on finishing sooner.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from openbanana.registry import Registry

# The training config and mixture (torch) are imported inside load_recipe: this module is loaded by
# `openbanana --help` (the experiment registry).

#: vision tasks, and the metric that stands for each (lower is better for normals)
TASK_METRICS: dict[str, str] = {
    "depth": "depth_delta1", "normals": "normals_mean_deg", "semantic": "semantic_miou",
    "instance": "instance_f1", "referring": "referring_ciou", "reasoning": "reasoning_giou",
}
LOWER_IS_BETTER = frozenset({"normals_mean_deg", "normals_median_deg", "depth_abs_rel"})
DEFAULT_BASE_CONFIG = "configs/default-cpu.json"
#: vision shares of the ``share-<p>`` arms, and pretraining fractions of the ``pretrain-<p>`` arms
VISION_SHARES = (0.01, 0.05, 0.10, 0.20, 0.50)
PRETRAIN_FRACTIONS = (0.0, 0.25, 0.5, 1.0)
#: the arm every score is read against: the random initialisation, never trained
REFERENCE_ARM = "untrained"
#: the pretraining of seed k trains with seed k + this: a scene stream disjoint from the instruction stages
PRETRAIN_SEED_OFFSET = 500
#: TrainConfig fields that do not change the trained weights (left out of a job's digest)
_NOT_WEIGHTS = ("num_workers", "log_every", "ckpt_every", "keep_checkpoints", "snapshot_every", "eval_every",
                "eval_batches", "max_minutes", "inference")


# ============================================================================ budgets
@dataclass(frozen=True)
class Budget:
    """How much of everything the experiment spends.

    Attributes:
        name: ``quick``, ``default`` or ``<minutes>min``.
        backend_config: the one architecture of every arm (``TrainConfig.backend_config``).
        resolution: the one training and scoring resolution.
        batch_size: samples per optimiser step, every arm.
        pretrain_steps: ``P``, steps of the full generation pretraining.
        instruct_steps: ``N``, instruction steps of the recipe's arms (the others follow from it).
        seeds: seeds per arm (0 .. seeds-1).
        eval_scenes: scenes per split (val, shift) that score each run.
        curve_scenes: val scenes that score each snapshot of the ``pretrained`` / ``scratch`` runs.
        curve_points: snapshots per ``pretrained`` / ``scratch`` run (0: no curves).
        gen_samples: held-out generation samples of the generation loss before and after tuning.
        ckpt_every: steps between training checkpoints (what a killed run resumes from).
        num_workers: render workers per training run.
        min_steps: the fewest instruction steps any arm gets.
        arms: the arms this budget runs by default (None: all of them).
        specialist_policy: ``equal_task_samples`` or ``equal_steps`` (see the module docstring).
        assumed_img_per_s: training throughput the plan's time estimate assumes.
        eval_s_per_scene: scoring time per scene and split the estimate assumes.
        gen_s_per_sample: time per held-out generation-loss sample the estimate assumes.
        sheet_s: time per sample sheet the estimate assumes.
        overhead_s_per_job: start-up and export time per training job the estimate assumes.
    """

    name: str
    backend_config: dict[str, Any]
    resolution: int
    batch_size: int
    pretrain_steps: int
    instruct_steps: int
    seeds: int
    eval_scenes: int
    curve_scenes: int
    curve_points: int
    gen_samples: int
    ckpt_every: int
    num_workers: int
    min_steps: int = 8
    arms: tuple[str, ...] | None = None
    specialist_policy: str = "equal_task_samples"
    assumed_img_per_s: float = 30.0
    eval_s_per_scene: float = 0.8
    gen_s_per_sample: float = 0.07
    sheet_s: float = 3.0
    overhead_s_per_job: float = 5.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: budget name -> factory of a :class:`Budget`
BUDGETS: Registry = Registry("budget")


@BUDGETS.register("quick")
def quick_budget() -> Budget:
    """The test suite's budget: a tiny model, a handful of steps, one seed, a reduced arm set."""
    micro = {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1], "emb_dim": 32,
             "text": {"dim": 32, "layers": 1, "heads": 2, "max_len": 320, "tokenizer": "words", "buckets": 512}}
    return Budget(name="quick", backend_config=micro, resolution=32, batch_size=4, pretrain_steps=4,
                  instruct_steps=4, seeds=1, eval_scenes=1, curve_scenes=1, curve_points=2, gen_samples=4,
                  ckpt_every=2, num_workers=0, min_steps=2,
                  arms=("untrained", "pretrained", "scratch", "vision-only", "specialist-depth", "head-depth",
                        "share-10", "pretrain-50"),
                  assumed_img_per_s=40.0, eval_s_per_scene=1.0, overhead_s_per_job=2.0)


@BUDGETS.register("default")
def default_budget() -> Budget:
    """Every arm in at most 3 hours on 2 CPU cores: fold-w at 64 px, 3 seeds (measured: module docstring)."""
    return Budget(name="default", backend_config={"size": "fold-w"}, resolution=64, batch_size=16,
                  pretrain_steps=556, instruct_steps=276, seeds=3, eval_scenes=12, curve_scenes=8, curve_points=4,
                  gen_samples=64, ckpt_every=120, num_workers=1, assumed_img_per_s=26.0, eval_s_per_scene=0.17)


@BUDGETS.register("long")
def long_budget() -> Budget:
    """The central comparison at 3x the instruction steps: ``untrained``, ``pretrained`` and
    ``scratch`` only, with the default's pretraining (the same jobs: a default run's can be reused)."""
    b = default_budget()
    return replace(b, name="long", instruct_steps=3 * b.instruct_steps, arms=("untrained", "pretrained", "scratch"))


#: wall-clock minutes the default budget took on this machine's 2 CPU cores, scoring included
#: (the run behind README's table); ``--budget <minutes>`` scales its steps by ``minutes / this``
DEFAULT_MINUTES = 118.0


def resolve_budget(spec: str) -> Budget:
    """A named budget (``quick``, ``default``, ``long``) or a number of minutes: the default budget
    with its pretraining and instruction steps scaled by ``minutes / DEFAULT_MINUTES`` (scoring stays).

    Raises:
        ValueError: neither a budget name nor a positive number of minutes.
    """
    spec = str(spec).strip()
    if spec in BUDGETS:
        return BUDGETS.get(spec)()
    try:
        minutes = float(spec.removesuffix("min"))
    except ValueError:
        raise ValueError(f"--budget must be one of {', '.join(BUDGETS.names())} or a number of minutes, "
                         f"got {spec!r}") from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise ValueError(f"--budget minutes must be a positive number, got {spec!r}")
    base = default_budget()
    scale = minutes / DEFAULT_MINUTES
    return replace(base, name=f"{minutes:g}min",
                   pretrain_steps=max(4, round(base.pretrain_steps * scale / 4) * 4),
                   instruct_steps=max(base.min_steps, round(base.instruct_steps * scale / 4) * 4))


# ============================================================================ arms
#: steps policy -> ``(N, s_ref, arm share, task weight share) -> steps`` before rounding
STEP_POLICIES: Registry = Registry("steps policy")
STEP_POLICIES.register("equal_steps", lambda n, s_ref, s, w: n)
STEP_POLICIES.register("equal_vision_samples", lambda n, s_ref, s, w: n * s_ref / s)
STEP_POLICIES.register("equal_task_samples", lambda n, s_ref, s, w: n * s_ref * w)


@dataclass(frozen=True)
class Arm:
    """One arm of the experiment.

    Attributes:
        name: ``pretrained``, ``share-10``, ``specialist-depth``, ...
        family: ``reference``, ``generalist``, ``vision-only``, ``specialist``, ``head-specialist``,
            ``vision-share`` or ``pretrain-compute``.
        pretrain_fraction: share of the budget's pretraining steps it starts from (0: random init).
        vision_share: the instruction stage's vision share (None: the recipe's).
        task: the one task of a specialist (None: every task of the recipe).
        steps_policy: key of :data:`STEP_POLICIES`.
        curve: export snapshots for a score-vs-compute curve.
        description: one line for the report.
        head: answer with a plain task head instead of the colour code (``head-<task>``).
    """

    name: str
    family: str
    pretrain_fraction: float
    vision_share: float | None = None
    task: str | None = None
    steps_policy: str = "equal_steps"
    curve: bool = False
    description: str = ""
    head: bool = False


def _percent(x: float) -> str:
    return f"{x * 100:g}"


def _reference_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm(REFERENCE_ARM, "reference", 0.0, description="the random initialisation, untrained: it draws mid-grey "
                "for every request (the floor to read every score against)")]


def _generalist_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm("pretrained", "generalist", 1.0, curve=True,
                description=f"generation pretraining, then instruction tuning at {_percent(recipe.share)} % vision"),
            Arm("scratch", "generalist", 0.0, curve=True,
                description="the same instruction tuning from random initialisation")]


def _vision_only_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm("vision-only", "vision-only", 0.0, vision_share=1.0, steps_policy="equal_vision_samples",
                description="from scratch, the generalists' vision samples alone")]


def _specialist_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm(f"specialist-{t}", "specialist", 0.0, vision_share=1.0, task=t, steps_policy=budget.specialist_policy,
                description=f"from scratch, {t} alone, in its colour code") for t in recipe.tasks]


def _head_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm(f"head-{t}", "head-specialist", 0.0, vision_share=1.0, task=t, steps_policy=budget.specialist_policy,
                head=True, description=f"specialist-{t} as a plain head on the same backbone (no colour code)")
            for t in recipe.tasks if t in head_tasks()]


def head_tasks() -> tuple[str, ...]:
    """The tasks whose answer kind has a plain head (:data:`openbanana.backends.task_head.HEADS`)."""
    from openbanana.backends.task_head import HEADS  # torch: not at import (`openbanana --help`)
    from openbanana.tasks import TASKS

    return tuple(t for t in TASK_METRICS if TASKS.get(t).answer_kind in HEADS)


def _share_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm(f"share-{_percent(s)}", "vision-share", 1.0, vision_share=s,
                description=f"pretrained, {_percent(s)} % vision, equal steps") for s in VISION_SHARES]


def _pretrain_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    return [Arm(f"pretrain-{_percent(f)}", "pretrain-compute", f,
                description=f"instruction tuning from {_percent(f)} % of the pretraining")
            for f in PRETRAIN_FRACTIONS]


#: arm family -> ``(recipe, budget) -> [Arm]``, in the order the arms run
ARM_FAMILIES: Registry = Registry("arm family")
ARM_FAMILIES.register("reference", _reference_arms)
ARM_FAMILIES.register("generalist", _generalist_arms)
ARM_FAMILIES.register("vision-only", _vision_only_arms)
ARM_FAMILIES.register("specialist", _specialist_arms)
ARM_FAMILIES.register("head-specialist", _head_arms)
ARM_FAMILIES.register("vision-share", _share_arms)
ARM_FAMILIES.register("pretrain-compute", _pretrain_arms)
_FAMILY_ORDER = ("reference", "generalist", "vision-only", "specialist", "head-specialist", "vision-share", "pretrain-compute")


# ============================================================================ the recipe
@dataclass(frozen=True)
class Recipe:
    """The base config split into what the arms vary.

    Attributes:
        config: the whole base ``TrainConfig`` as a dict.
        pretrain: its generation-pretraining stage (the first; ``vision_share`` 0).
        instruct: its instruction stage (the last).
        share: the instruction stage's vision share (``s_ref``).
        weights: the instruction stage's vision weights over the tasks it trains.
    """

    config: dict[str, Any]
    pretrain: dict[str, Any]
    instruct: dict[str, Any]
    share: float
    weights: dict[str, float]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(t for t in TASK_METRICS if self.weights.get(t, 0) > 0)

    @property
    def constant_pretrain_lr(self) -> bool:
        """True when the pretraining learning rate is constant after warm-up (snapshots = shorter runs)."""
        return float(self.pretrain.get("min_lr_ratio", 0.1)) == 1.0


def load_recipe(config: dict[str, Any] | str | Path) -> Recipe:
    """Read and check a base config (a path or a ``TrainConfig`` dict).

    Raises:
        ValueError / FileNotFoundError: not a valid training config, or not the two-stage recipe.
    """
    from openbanana.data.mixture import MixtureConfig
    from openbanana.training.config import TrainConfig

    cfg = TrainConfig.from_dict(dict(config)) if isinstance(config, dict) else TrainConfig.load(config)
    d = cfg.to_dict()
    if len(d["stages"]) < 2:
        raise ValueError("the base config must have a generation-pretraining stage and an instruction stage "
                         f"(it has {len(d['stages'])} stage(s))")
    if d["data_source"] != "mixture":
        raise ValueError(f"the base config must train on the synthetic mixture, not {d['data_source']!r}")
    pretrain, instruct = d["stages"][0], d["stages"][-1]
    pre_data = MixtureConfig(**pretrain["data"])
    if pre_data.vision_share != 0:
        raise ValueError(f"the base config's first stage must be generation pretraining (vision_share 0), "
                         f"got {pre_data.vision_share}")
    data = MixtureConfig(**instruct["data"])
    if data.vision_share <= 0:
        raise ValueError("the base config's last stage must mix vision samples in (vision_share > 0)")
    weights = {t: float(w) for t, w in data.vision_weights.items() if w > 0}
    return Recipe(config=d, pretrain=pretrain, instruct=instruct, share=float(data.vision_share), weights=weights)


# ============================================================================ the plan
@dataclass
class TrainJob:
    """One training run of the plan, trained once whoever needs it.

    Attributes:
        key: ``<kind>-seed<k>-<digest>``: its folder ``OUT/train/<key>``.
        kind: ``pretrain``, ``instruct``, or ``init`` (not trained: the random initialisation of its
            config, exported as it is).
        seed: the run's seed (weights, noise, data).
        config: its ``TrainConfig`` dict; ``init_from`` is relative to OUT (``train/<key>[/snapshots/..]``).
        depends_on: the pretraining job it starts from (None: random initialisation).
        snapshot_steps: steps whose exported snapshots are wanted (pretraining fractions, curves).
        tasks: the tasks its model answers (None: every task, and it generates images); a task head
            answers one task and cannot generate.
    """

    key: str
    kind: str
    seed: int
    config: dict[str, Any]
    depends_on: str | None = None
    snapshot_steps: tuple[int, ...] = ()
    tasks: tuple[str, ...] | None = None

    @property
    def generates(self) -> bool:
        """Whether its model generates images (has a generation loss and text-to-image samples)."""
        return self.tasks is None

    @property
    def steps(self) -> int:
        return 0 if self.kind == "init" else sum(int(s["steps"]) for s in self.config["stages"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunSpec:
    """One (arm, seed): the instruction job that makes it and what it is compared on.

    Attributes:
        arm, family, seed: which run.
        job: key of its instruction :class:`TrainJob`.
        init: where its weights start, relative to OUT (None: random initialisation).
        pretrain_job: key of the pretraining job its weights come from (None: none).
        pretrain_steps: pretraining steps behind ``init`` (0: none).
        vision_share: the instruction stage's vision share.
        steps: instruction steps.
        tasks: the tasks it was trained on (the report shows its scores on these).
        curve: the run's snapshots are scored (score vs compute).
    """

    arm: str
    family: str
    seed: int
    job: str
    init: str | None
    pretrain_job: str | None
    pretrain_steps: int
    vision_share: float
    steps: int
    tasks: tuple[str, ...]
    curve: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """Everything the runner does, decided before any training starts (pure data).

    Attributes:
        experiment: ``pretraining-ablation``.
        budget: the :class:`Budget`.
        base_config: path of the recipe it was built from.
        recipe_share: the recipe's vision share ``s_ref``.
        arms: the arms, in order.
        jobs: training jobs by key, pretraining jobs before the instruction jobs that need them.
        runs: one per (arm, seed).
    """

    experiment: str
    budget: Budget
    base_config: str
    recipe_share: float
    arms: list[Arm]
    jobs: dict[str, TrainJob]
    runs: list[RunSpec] = field(default_factory=list)

    def total_steps(self) -> int:
        return sum(j.steps for j in self.jobs.values())

    def estimate_minutes(self) -> dict[str, float]:
        """Training, scoring and total minutes under the budget's assumed rates."""
        b = self.budget
        train_s = self.total_steps() * b.batch_size / b.assumed_img_per_s + len(self.jobs) * b.overhead_s_per_job
        instruct = [j for j in self.jobs.values() if j.kind != "pretrain"]  # scored: tuned, or untrained
        curves = sum(len(j.snapshot_steps) for j in instruct)
        inits = {r.init or f"random-{r.seed}" for r in self.runs}  # starting weights: generation loss, sheet
        # a task head scores only its task(s) and has no generation loss
        scored = sum(1.0 if j.generates else len(j.tasks) / len(TASK_METRICS) for j in instruct)
        eval_s = (scored * 2 * b.eval_scenes + curves * b.curve_scenes) * b.eval_s_per_scene
        generators = sum(j.generates for j in instruct)
        extra_s = (generators + len(inits)) * b.gen_samples * b.gen_s_per_sample + (len(instruct) + len(inits)) * b.sheet_s
        score_s = eval_s + extra_s
        return {"train": train_s / 60, "score": score_s / 60, "total": (train_s + score_s) / 60}

    def describe(self) -> str:
        """The plan in a few lines: arms, jobs, steps, the time estimate."""
        b = self.budget
        est = self.estimate_minutes()
        lines = [(f"pretraining-ablation, budget {b.name}: {b.backend_config.get('size')} at {b.resolution} px, "
                  f"batch {b.batch_size}, P = {b.pretrain_steps} pretraining and N = {b.instruct_steps} "
                  f"instruction steps, {b.seeds} seed(s), {b.eval_scenes} scenes per split"),
                 f"arms ({len(self.arms)}): " + ", ".join(a.name for a in self.arms),
                 (f"training jobs: {len(self.jobs)} ({sum(j.kind == 'pretrain' for j in self.jobs.values())} "
                  f"pretraining), {self.total_steps():,} steps = {self.total_steps() * b.batch_size:,} images")]
        seed0 = [r for r in self.runs if r.seed == 0]
        for r in seed0:
            lines.append(f"  {r.arm:<20} {r.steps:>6} steps at {_percent(r.vision_share):>4} % vision"
                         + (f", from {r.pretrain_steps} pretraining steps" if r.pretrain_steps else ", from scratch")
                         + f"  [{r.job}]")
        lines.append(f"estimate at {b.assumed_img_per_s:g} img/s and {b.eval_s_per_scene:g} s per scored scene: "
                     f"{est['train']:.0f} min training + {est['score']:.0f} min scoring = {est['total']:.0f} min")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "budget": self.budget.to_dict(), "base_config": self.base_config,
                "recipe_share": self.recipe_share, "arms": [asdict(a) for a in self.arms],
                "jobs": {k: j.to_dict() for k, j in self.jobs.items()}, "runs": [r.to_dict() for r in self.runs],
                "estimate_minutes": self.estimate_minutes()}


def all_arms(recipe: Recipe, budget: Budget) -> list[Arm]:
    """Every arm of the experiment, in run order."""
    return [a for fam in _FAMILY_ORDER for a in ARM_FAMILIES.get(fam)(recipe, budget)]


def select_arms(arms: list[Arm], names: list[str] | tuple[str, ...] | None) -> list[Arm]:
    """The arms named (arm names or family names), in run order; ``None``: all of ``arms``.

    Raises:
        ValueError: a name that is neither an arm nor a family (the valid ones listed).
    """
    if names is None:
        return list(arms)
    wanted = {n.strip() for n in names if n.strip()}
    if not wanted:
        raise ValueError("--arms is empty")
    known = {a.name for a in arms} | {a.family for a in arms}
    bad = sorted(wanted - known)
    if bad:
        raise ValueError(f"unknown arm(s) {bad}; expected arm names {[a.name for a in arms]} "
                         f"or families {sorted({a.family for a in arms})}")
    return [a for a in arms if a.name in wanted or a.family in wanted]


def digest(config: dict[str, Any]) -> str:
    """12 hex digits of the parts of a TrainConfig dict that change the trained weights."""
    d = {k: v for k, v in config.items() if k not in _NOT_WEIGHTS}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def init_key(config: dict[str, Any]) -> str:
    """``init-seed<k>-<digest>``: the folder of the random initialisation a job of ``config`` starts
    from (what decides it: backend, architecture, resolution and seed)."""
    key = digest({k: config[k] for k in ("backend", "backend_config", "resolution", "seed")})
    return f"init-seed{config['seed']}-{key}"


def _common(recipe: Recipe, budget: Budget, seed: int) -> dict[str, Any]:
    """The base config with the budget's architecture, resolution, batch, seed and bookkeeping."""
    d = json.loads(json.dumps(recipe.config))
    d.update(backend_config=dict(budget.backend_config), resolution=budget.resolution, batch_size=budget.batch_size,
             seed=seed, max_minutes=None, init_from=None, init_exclude=[], ckpt_every=budget.ckpt_every,
             keep_checkpoints=1, snapshot_every=0, eval_every=0, eval_batches=0, num_workers=budget.num_workers,
             log_every=max(1, min(20, budget.instruct_steps // 4)))
    return d


def _stage(stage: dict[str, Any], steps: int, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a recipe stage with ``steps`` steps, no wall-clock limit, warm-up at most 10 % of it."""
    s = json.loads(json.dumps(stage))
    s.update(steps=int(steps), max_minutes=None, warmup_steps=max(1, min(int(stage.get("warmup_steps", 100)),
                                                                          steps // 10)))
    if data is not None:
        s["data"] = data
    return s


def _pretrain_job(recipe: Recipe, budget: Budget, seed: int, steps: int, snapshot_steps: tuple[int, ...]) -> TrainJob:
    d = _common(recipe, budget, seed + PRETRAIN_SEED_OFFSET)  # its own scenes, as the recipe's first stage
    d["stages"] = [_stage(recipe.pretrain, steps)]
    inner = sorted(s for s in set(snapshot_steps) if 0 < s < steps)
    if inner:
        d["snapshot_every"] = math.gcd(*inner, steps)
    return TrainJob(key=f"pretrain-seed{seed}-{digest(d)}", kind="pretrain", seed=seed, config=d,
                    snapshot_steps=tuple(inner))


def _arm_steps(arm: Arm, recipe: Recipe, budget: Budget) -> int:
    share = recipe.share if arm.vision_share is None else arm.vision_share
    w = recipe.weights[arm.task] / sum(recipe.weights.values()) if arm.task else 1.0
    raw = STEP_POLICIES.get(arm.steps_policy)(budget.instruct_steps, recipe.share, share, w)
    return max(budget.min_steps, round(raw))


def _instruct_data(arm: Arm, recipe: Recipe) -> dict[str, Any]:
    data = json.loads(json.dumps(recipe.instruct["data"]))
    if arm.vision_share is not None:
        data["vision_share"] = arm.vision_share
    if arm.task is not None:
        data["vision_weights"] = {arm.task: 1.0}
    return data


def _as_head(d: dict[str, Any], arm: Arm, budget: Budget) -> None:
    """Turn a specialist's TrainConfig dict into its plain-head twin (same data, steps and backbone).

    The head reads its targets back from the samples' drawings under their instructions, so no
    instruction or image is dropped (the recipe's one-step samples keep both anyway)."""
    from openbanana.data.mixture import MixtureConfig
    from openbanana.data.synthetic.classes import CLASSES

    data = MixtureConfig(**d["stages"][-1]["data"])
    d["backend"] = "task-head"
    d["backend_config"] = {"task": arm.task, "backbone": dict(budget.backend_config), "classes": list(CLASSES),
                           "max_masks": data.max_referring_targets}
    d["objective"] = {**d.get("objective", {}), "p_drop_text": 0.0, "p_drop_image": 0.0}


def make_plan(budget: Budget | str = "default", base_config: str | Path | dict[str, Any] = DEFAULT_BASE_CONFIG, *,
              seeds: int | None = None, arms: list[str] | tuple[str, ...] | None = None) -> Plan:
    """The whole experiment as data: arms, training jobs (shared where configs coincide), runs.

    Args:
        budget: a :class:`Budget` or a spec for :func:`resolve_budget`.
        base_config: the recipe (a path or a TrainConfig dict).
        seeds: seeds per arm (default: the budget's).
        arms: arm or family names (default: the budget's arm set, or all).

    Raises:
        ValueError: a bad budget, seed count, arm name or base config.
    """
    b = resolve_budget(budget) if isinstance(budget, str) else budget
    if seeds is not None:
        if int(seeds) < 1:
            raise ValueError(f"--seeds must be >= 1, got {seeds}")
        b = replace(b, seeds=int(seeds))
    recipe = load_recipe(base_config)
    chosen = select_arms(all_arms(recipe, b), arms if arms is not None else b.arms)
    P = b.pretrain_steps
    frac_steps = {f: round(P * f) for f in sorted({a.pretrain_fraction for a in chosen})}
    jobs: dict[str, TrainJob] = {}
    runs: list[RunSpec] = []
    for seed in range(b.seeds):
        if any(a.family == "reference" for a in chosen):
            d = _common(recipe, b, seed)
            d["stages"] = [_stage(recipe.instruct, b.instruct_steps)]  # never trained: only its config
            init = TrainJob(key=init_key(d), kind="init", seed=seed, config=d)
            jobs[init.key] = init
        # pretraining: one full job (snapshots at the fractions) when its learning rate is constant
        sources: dict[float, tuple[TrainJob, str, int]] = {}
        wanted = [f for f, s in frac_steps.items() if s > 0]
        if wanted and recipe.constant_pretrain_lr:
            full = _pretrain_job(recipe, b, seed, P, tuple(frac_steps[f] for f in wanted))
            for f in wanted:
                s = frac_steps[f]
                rel = f"train/{full.key}" if s == P else f"train/{full.key}/snapshots/step_{s:07d}"
                sources[f] = (full, rel, s)
        else:
            for f in wanted:
                job = _pretrain_job(recipe, b, seed, frac_steps[f], ())
                sources[f] = (job, f"train/{job.key}", frac_steps[f])
        for job, _, _ in sources.values():
            jobs.setdefault(job.key, job)
        for arm in chosen:
            if arm.family == "reference":
                runs.append(RunSpec(arm=arm.name, family=arm.family, seed=seed, job=init.key, init=None,
                                    pretrain_job=None, pretrain_steps=0, vision_share=0.0, steps=0,
                                    tasks=recipe.tasks))
                continue
            steps = _arm_steps(arm, recipe, b)
            d = _common(recipe, b, seed)
            d["stages"] = [_stage(recipe.instruct, steps, _instruct_data(arm, recipe))]
            if arm.head:
                _as_head(d, arm, b)
            src = sources.get(arm.pretrain_fraction)
            d["init_from"] = src[1] if src else None
            key = f"instruct-seed{seed}-{digest(d)}"
            snaps: tuple[int, ...] = ()
            if arm.curve and b.curve_points > 0:
                every = max(1, steps // b.curve_points)
                snaps = tuple(range(every, steps, every))
            if key in jobs:  # another arm trains the same weights: share the job, merge the snapshots wanted
                job = jobs[key]
                snaps = tuple(sorted(set(job.snapshot_steps) | set(snaps)))
                jobs[key] = replace(job, snapshot_steps=snaps,
                                    config={**job.config, "snapshot_every": math.gcd(*snaps) if snaps else 0})
            else:
                d["snapshot_every"] = math.gcd(*snaps) if snaps else 0
                jobs[key] = TrainJob(key=key, kind="instruct", seed=seed, config=d,
                                     depends_on=src[0].key if src else None, snapshot_steps=snaps,
                                     tasks=(arm.task,) if arm.head else None)
            share = recipe.share if arm.vision_share is None else arm.vision_share
            runs.append(RunSpec(arm=arm.name, family=arm.family, seed=seed, job=key, init=src[1] if src else None,
                                pretrain_job=src[0].key if src else None, pretrain_steps=src[2] if src else 0,
                                vision_share=share, steps=steps,
                                tasks=(arm.task,) if arm.task else recipe.tasks, curve=arm.curve))
    ordered = {k: j for k, j in jobs.items() if j.kind == "pretrain"}
    ordered.update({k: j for k, j in jobs.items() if j.kind != "pretrain"})
    name = str(base_config) if not isinstance(base_config, dict) else "<dict>"
    return Plan(experiment="pretraining-ablation", budget=b, base_config=name, recipe_share=recipe.share,
                arms=chosen, jobs=ordered, runs=runs)
