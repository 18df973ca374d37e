"""The ReasonSeg query-rewriting hook: a registered rewriter turns reasoning into referring."""

import pytest

from openbanana.data.sources.fixtures import write_reasonseg
from openbanana.evaluation.benchmarks import BENCHMARKS
from openbanana.evaluation.model import OracleModel
from openbanana.evaluation.rewriters import QUERY_REWRITERS, rewrite_spec
from openbanana.evaluation.runner import EvalOptions, evaluate

NAME = "test-plain-noun"
if NAME not in QUERY_REWRITERS:

    @QUERY_REWRITERS.register(NAME)
    def _plain_noun(query, image):
        return "the container" if "water" in query else "the object"


def test_identity_is_the_default_and_rewrite_spec_maps_expressions():
    assert QUERY_REWRITERS.get("identity")("q?", None) == "q?"
    spec = {"expressions": ["what holds water?"], "colors": [(255, 0, 0)]}
    out = rewrite_spec(spec, QUERY_REWRITERS.get(NAME), None)
    assert out == {"expressions": ["the container"], "colors": [(255, 0, 0)]} and spec["expressions"] == [
        "what holds water?"
    ]
    with pytest.raises(ValueError, match="non-empty strings"):
        rewrite_spec(spec, lambda q, im: "", None)


def test_reasonseg_with_and_without_rewriter(tmp_path):
    write_reasonseg(tmp_path / "reasonseg", n=2)
    b = BENCHMARKS.get("reasonseg")
    src = b.source(tmp_path)
    plain, _ = evaluate(OracleModel(src), b, EvalOptions(), source=src)
    assert all("Query:" in p or "question" in p.lower() for p in plain["prompts"]["reasoning"])
    rew, _ = evaluate(OracleModel(src), b, EvalOptions(query_rewriter=NAME), source=src)
    assert rew["protocol"]["query_rewriter"] == NAME
    assert all('"the container"' in p for p in rew["prompts"]["reasoning"])  # asked as a referring question
    assert rew["metrics"]["reasoning"]["giou"] == 1.0 and rew["n_failed"] == 0
    with pytest.raises(ValueError, match="unknown query rewriter"):
        evaluate(OracleModel(src), b, EvalOptions(query_rewriter="nope"), source=src)
