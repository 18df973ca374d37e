"""The evaluation harness: the paper's benchmarks and the field's protocols in one command.

- :mod:`.benchmarks`: the :data:`~.benchmarks.BENCHMARKS` registry (data source + protocol per name);
- :mod:`.runner`: :func:`~.runner.evaluate` / :func:`~.runner.run_partial` / :func:`~.runner.finalize`;
- :mod:`.scoring`: per-task scorers (protocols on top of :mod:`openbanana.metrics`);
- :mod:`.harness`: the CLI's multi-benchmark, multi-process driver; :mod:`.distributed`: partials;
- :mod:`.report`, :mod:`.reference`, :mod:`.grid`: tables, published numbers, picture grids;
- :mod:`.model`: the model protocol and the oracle models; :mod:`.rewriters`: ReasonSeg query hooks.

See ``docs/evaluation.md``. Submodules are imported on use (torch and the data sources are heavy).
"""
