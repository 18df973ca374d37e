import torch

from openbanana.backends.base import Batch
from openbanana.training.config import ObjectiveConfig
from openbanana.training.objective import prepare_batch
from openbanana.training.replay import ReplayPool, concat, refill_start


def _batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    u8 = lambda: torch.randint(0, 256, (n, 3, 4, 4), generator=g).float() / 127.5 - 1
    return Batch(target=u8(), cond=u8(), has_cond=torch.ones(n, dtype=torch.bool), prompts=[f"p{i}" for i in range(n)],
                 tasks=["depth", "t2i"] * (n // 2))


def test_prepare_batch_extremes():
    b = _batch()
    all_drop = prepare_batch(b, ObjectiveConfig(p_drop_text=1, p_drop_image=1, one_step_prob=0), torch.Generator())
    assert all_drop.prompts == [""] * 8 and not all_drop.has_cond.any() and not all_drop.cond.any()
    assert not all_drop.one_step.any()
    one = prepare_batch(b, ObjectiveConfig(p_drop_text=1, p_drop_image=1, one_step_prob=1), torch.Generator())
    assert one.one_step.tolist() == [True, False] * 4
    # one-step samples keep their text and image even with dropout certain
    assert [p for p, o in zip(one.prompts, one.one_step) if o] == ["p0", "p2", "p4", "p6"]
    assert one.has_cond.tolist() == [True, False] * 4
    assert torch.equal(one.target, b.target)


def test_prepare_batch_seeded_rates():
    b = _batch(n=1000)
    cfg = ObjectiveConfig(p_drop_text=0.1, p_drop_image=0.3, one_step_prob=0.5)
    x = prepare_batch(b, cfg, torch.Generator().manual_seed(1))
    y = prepare_batch(b, cfg, torch.Generator().manual_seed(1))
    assert x.prompts == y.prompts and torch.equal(x.one_step, y.one_step)
    assert 0.2 < x.one_step.float().mean() < 0.3  # half of the depth half
    flow = ~x.one_step
    assert 0.05 < sum(p == "" for p, f in zip(x.prompts, flow) if f) / flow.sum().item() < 0.15


def test_replay_pool_ring_exact_values_and_draw():
    pool = ReplayPool(capacity=5)
    a, b = _batch(4, 0), _batch(4, 1)
    pool.add(a)
    pool.add(b)  # 8 added, ring of 5: slots hold samples 3..7 (a[3], b[0..3]) at slots 3,4,0,1,2
    assert len(pool) == 5 and pool.count == 8
    assert pool.prompts == ["p1", "p2", "p3", "p3", "p0"]
    got = pool.draw(50, torch.Generator().manual_seed(0))
    assert got.target.shape == (50, 3, 4, 4)
    # values are bit-identical after the uint8 round trip; p0 in the pool is b[0] (a[0] was overwritten)
    idx = next(i for i, p in enumerate(got.prompts) if p == "p0")
    assert torch.equal(got.target[idx], b.target[0]) and torch.equal(got.cond[idx], b.cond[0])
    assert refill_start(8, 5) == 3 and refill_start(3, 5) == 0
    both = concat(a, b)
    assert both.target.shape[0] == 8 and both.prompts == a.prompts + b.prompts
