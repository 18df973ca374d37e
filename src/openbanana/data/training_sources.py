"""The registry of training data sources: what a training config's ``data_source`` names.

A :class:`TrainingSource` says what the trainer needs of a stream of samples: the config dataclass
that a stage's ``data`` dict fills (:meth:`TrainingSource.make_config`), the function that builds
one process's dataset, the collate that turns samples into a :class:`~openbanana.batch.Batch`, and
whether the dataset starts at a given position itself (exact resume without regenerating).

:data:`TRAINING_SOURCES` maps a name to a loader that imports the source's module only when the
source is used (``mixture`` renders scenes, ``flux2`` reads real data sets); a new source registers
its loader under a new name and the trainer and the config check need no change::

    TRAINING_SOURCES.register("mine", lambda: TrainingSource("mine", MineConfig, build_dataset))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from openbanana.batch import Batch, collate
from openbanana.data import flux2, mixture, toy
from openbanana.registry import Registry


@dataclass(frozen=True)
class TrainingSource:
    """One training data source.

    Attributes:
        name: its registry key (``data_source`` in a training config).
        config: the dataclass a stage's ``data`` dict fills; ``size`` (or ``resolution``) and
            ``split`` fields are filled from the run when the dict leaves them out.
        build_dataset: ``(config, *, seed, rank, world_size[, start]) -> IterableDataset`` of
            sample dicts (``cond``, ``target``, ``prompt``, ``task``, ...).
        collate: samples -> :class:`~openbanana.batch.Batch`.
        resumable: ``build_dataset`` takes ``start=`` and begins at that position itself (else the
            trainer regenerates and drops the samples already seen: exact, but slow).
    """

    name: str
    config: type
    build_dataset: Callable[..., Any]
    collate: Callable[[list[dict]], Batch] = collate
    resumable: bool = True

    def make_config(self, data: dict[str, Any], resolution: int, split: str | None = None) -> Any:
        """The source's config from a stage's ``data`` dict (``size``/``resolution`` and ``split``
        filled in); an unknown key raises ValueError listing the valid ones."""
        names = {f.name for f in fields(self.config)}
        d = dict(data)
        for key in ("size", "resolution"):
            if key in names and key not in d:
                d[key] = resolution
        if split is not None and "split" in names:
            d["split"] = split
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown data key(s) {sorted(unknown)} for {self.config.__name__}; "
                             f"expected {sorted(names)}")
        return self.config(**d)


#: data source name -> loader of its :class:`TrainingSource` (imports the source when called)
TRAINING_SOURCES: Registry[Callable[[], TrainingSource]] = Registry("training data source")


def training_source(name: str) -> TrainingSource:
    """The training data source registered as ``name`` (a miss lists the valid names)."""
    return TRAINING_SOURCES.get(name)()


@TRAINING_SOURCES.register("mixture")
def _mixture() -> TrainingSource:
    """The synthetic mixture: generation and vision tasks rendered on the fly (or read from shards)."""
    return TrainingSource("mixture", mixture.MixtureConfig, mixture.build_dataset)


@TRAINING_SOURCES.register("toy")
def _toy() -> TrainingSource:
    """A tiny deterministic source for tests and smoke runs."""
    return TrainingSource("toy", toy.ToyConfig, toy.build_dataset)


@TRAINING_SOURCES.register("flux2")
def _flux2() -> TrainingSource:
    """The synthetic mixture + base-model replay + real sources, weighted (FLUX.2 fine-tuning)."""
    return TrainingSource("flux2", flux2.BlendConfig, flux2.build_dataset, resumable=False)
