"""The FLUX.2 [klein] backend on tiny, randomly initialised *real* diffusers/transformers classes.

The pipeline directory is written once per module by the same ``save_pretrained`` a hub snapshot
comes from, and every test loads it back through ``Flux2KleinBackend.from_pretrained``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("peft")

from openbanana.backends import BACKENDS, Batch, GeneratorBackend
from openbanana.backends.flux2_klein import (
    CONFIG_NAME,
    LORA_WEIGHTS_NAME,
    Flux2KleinBackend,
    Flux2KleinConfig,
)
from openbanana.backends.flux2_random import OUT_LAYERS, save_random_pipeline

SIZE = 32  # pixels; 8 x 8 tokens with the tiny VAE (x2) and 2 x 2 patches


def tiny_config(**kw) -> Flux2KleinConfig:
    base = {"bf16": False, "text_encoder_out_layers": OUT_LAYERS["tiny"], "max_sequence_length": 24,
                "lora_rank": 4, "lora_alpha": 8.0, "gradient_checkpointing": True, "one_step_fraction": 0.25}
    base.update(kw)
    return Flux2KleinConfig(**base)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_random_pipeline(tmp_path_factory.mktemp("flux2") / "base", "tiny", seed=0)


def load(path: Path | str, **kw) -> Flux2KleinBackend:
    torch.manual_seed(1)  # LoRA A matrices are drawn at creation
    return Flux2KleinBackend.from_pretrained(path, tiny_config(**kw))


def make_batch(seed: int, b: int = 2, has_cond=None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    has = torch.tensor(has_cond if has_cond is not None else [True] * b)
    cond = torch.rand(b, 3, SIZE, SIZE, generator=g) * 2 - 1
    cond[~has] = 0
    return Batch(target=torch.rand(b, 3, SIZE, SIZE, generator=g) * 2 - 1, cond=cond, has_cond=has,
                 prompts=[f"estimate the depth {i}" for i in range(b)], tasks=["depth"] * b)


def train_steps(backend: Flux2KleinBackend, n: int = 1, lr: float = 5e-2, seed: int = 0) -> list[float]:
    opt = torch.optim.AdamW(backend.trainable_parameters(), lr=lr)
    losses = []
    for i in range(n):
        loss = backend.training_loss(make_batch(seed + i, has_cond=[True, False]),
                                     generator=torch.Generator().manual_seed(seed + i))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def sample(backend: Flux2KleinBackend, steps: int = 2, seed: int = 3) -> torch.Tensor:
    cond = make_batch(99).cond
    return backend.sample(cond, ["estimate the depth", "draw the normals"], height=SIZE, width=SIZE,
                          num_inference_steps=steps, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------- config
def test_config_json_roundtrip_and_validation(tmp_path):
    cfg = tiny_config(finetune="full", lora_targets=["attn.to_q"])
    cfg.save(tmp_path / "c.json")
    back = Flux2KleinConfig.load(tmp_path / "c.json")
    assert back == cfg and back.lora_targets == ("attn.to_q",)
    with pytest.raises(ValueError, match="finetune"):
        Flux2KleinConfig(finetune="half")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['rank'\] in Flux2KleinConfig"):
        Flux2KleinConfig.from_dict({"rank": 4})


def test_unknown_override_is_refused_before_loading(tiny_dir):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lora_rnak'\] in Flux2KleinConfig overrides"):
        Flux2KleinBackend.from_pretrained(tiny_dir, tiny_config(), lora_rnak=4)


def test_registered_and_protocol(tiny_dir):
    assert BACKENDS.get("flux2-klein") is Flux2KleinBackend
    backend = load(tiny_dir)
    assert isinstance(backend, GeneratorBackend)
    # only the transformer is a registered child: DDP/FSDP wrap exactly the trained network
    assert [n for n, _ in backend.named_children()] == ["transformer"]


# ---------------------------------------------------------------------------------- conditioning
def test_sample_matches_diffusers_editing_pipeline(tiny_dir):
    """One reference image, same noise: our sampler reproduces Flux2KleinPipeline's edit output."""
    from diffusers import Flux2KleinPipeline
    from PIL import Image

    backend = load(tiny_dir)  # LoRA B = 0: the base model's function
    size = 64  # the pipeline refuses reference images under 64 px
    rgb = (np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8)
    cond = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    ours = backend.sample(cond, ["estimate the depth"], height=size, width=size, num_inference_steps=2,
                          generator=torch.Generator().manual_seed(5))
    pipe = Flux2KleinPipeline.from_pretrained(tiny_dir)
    latents = torch.randn((1, 16, size // 4, size // 4), generator=torch.Generator().manual_seed(5))
    theirs = pipe(image=Image.fromarray(rgb), prompt="estimate the depth", height=size, width=size,
                  num_inference_steps=2, latents=latents, output_type="pt", guidance_scale=1.0,
                  max_sequence_length=24, text_encoder_out_layers=OUT_LAYERS["tiny"]).images
    torch.testing.assert_close(ours * 0.5 + 0.5, theirs, atol=2e-5, rtol=0)
    # and the reference image matters (far more than the implementations differ)
    other = backend.sample(-cond, ["estimate the depth"], height=size, width=size, num_inference_steps=2,
                           generator=torch.Generator().manual_seed(5))
    assert (other - ours).abs().max() > 10 * (ours * 0.5 + 0.5 - theirs).abs().max()


def test_guidance_paths(tiny_dir):
    backend = load(tiny_dir)
    cond = make_batch(1).cond
    kw = {"height": SIZE, "width": SIZE, "num_inference_steps": 2}
    plain = backend.sample(cond, ["a", "b"], generator=torch.Generator().manual_seed(0), **kw)
    text = backend.sample(cond, ["a", "b"], guidance_text=3.0, generator=torch.Generator().manual_seed(0), **kw)
    image = backend.sample(cond, ["a", "b"], guidance_image=3.0, generator=torch.Generator().manual_seed(0), **kw)
    t2i = backend.sample(None, ["a", "b"], guidance_text=3.0, generator=torch.Generator().manual_seed(0), **kw)
    for out in (text, image, t2i):
        assert out.shape == plain.shape and torch.isfinite(out).all()
    assert not torch.equal(text, plain) and not torch.equal(image, plain) and not torch.equal(text, image)
    # scale 1 on both is exactly the unguided path
    same = backend.sample(cond, ["a", "b"], guidance_text=1.0, guidance_image=1.0,
                          generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(same, plain)


def test_bad_inputs_raise(tiny_dir):
    backend = load(tiny_dir)
    with pytest.raises(ValueError, match="multiples of 4"):
        backend.sample(None, ["x"], height=30, width=32)
    with pytest.raises(ValueError, match="2 prompts"):
        backend.sample(torch.zeros(1, 3, SIZE, SIZE), ["a", "b"], height=SIZE, width=SIZE)
    batch = make_batch(0)
    batch.prompts = ["only one"]
    with pytest.raises(ValueError, match="batch size"):
        backend.training_loss(batch)
    with pytest.raises(ValueError, match="lora_targets"):
        load(tiny_dir, lora_targets=("no_such_layer",))


# ---------------------------------------------------------------------------------- training
@pytest.mark.parametrize("finetune", ["lora", "full"])
def test_training_step_updates_only_trainable(tiny_dir, finetune):
    backend = load(tiny_dir, finetune=finetune)
    trainable = {id(p) for p in backend.trainable_parameters()}
    names = [n for n, p in backend.transformer.named_parameters() if id(p) in trainable]
    if finetune == "lora":
        assert names and all("lora_" in n for n in names)
    else:
        assert len(names) == sum(1 for _ in backend.transformer.parameters())
    before = {n: p.detach().clone() for n, p in backend.transformer.named_parameters()}
    loss = backend.training_loss(make_batch(0, has_cond=[True, False]), generator=torch.Generator().manual_seed(0))
    again = backend.training_loss(make_batch(0, has_cond=[True, False]), generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss.ndim == 0 and loss.item() > 0
    assert loss.item() == pytest.approx(again.item(), rel=1e-6)  # fixed generator -> fixed loss
    train_steps(backend, 1)
    after = dict(backend.transformer.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n].detach())}
    assert changed and changed <= set(names)
    assert all(p.dtype == torch.float32 for p in backend.trainable_parameters())


@pytest.mark.slow
def test_one_step_mode_trains_and_samples_deterministically(tiny_dir):
    backend = load(tiny_dir, finetune="full", gradient_checkpointing=False)
    batch = make_batch(0)
    batch.one_step = torch.tensor([True, True])
    # one-step samples see zeros at sigma = 1: the loss does not depend on the noise
    a = backend.training_loss(batch, generator=torch.Generator().manual_seed(0)).item()
    b = backend.training_loss(batch, generator=torch.Generator().manual_seed(1)).item()
    assert a == pytest.approx(b, rel=1e-6)
    opt = torch.optim.AdamW(backend.trainable_parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        loss = backend.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    # the one-step sample is -v(0, sigma=1): the latents it decodes are what the loss trained
    with torch.no_grad():
        x0 = backend.encode_images(batch.target)
        ref = backend.encode_images(batch.cond)
        embeds, txt_ids = backend.prompt_embeddings(batch.prompts)
        v = backend.predict_velocity(torch.zeros_like(x0), torch.ones(2), ref, embeds, txt_ids)
        assert ((-v - x0) ** 2).mean().item() == pytest.approx(losses[-1], rel=0.5)
    one = [backend.sample(batch.cond, batch.prompts, height=SIZE, width=SIZE, one_step=True,
                          generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    assert torch.equal(one[0], one[1])
    torch.testing.assert_close(one[0], backend.decode_latents(-v), atol=1e-5, rtol=0)


def test_reference_at_half_scale(tiny_dir):
    backend = load(tiny_dir, ref_scale=0.5)
    batch = make_batch(0)
    assert backend.encode_reference(batch.cond).shape[2:] == (SIZE // 8, SIZE // 8)  # a quarter of the tokens
    assert backend.encode_images(batch.target).shape[2:] == (SIZE // 4, SIZE // 4)
    assert torch.isfinite(backend.training_loss(batch, generator=torch.Generator().manual_seed(0)))
    out = backend.sample(batch.cond, batch.prompts, height=SIZE, width=SIZE, one_step=True)
    assert out.shape == (2, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match="ref_scale"):
        tiny_config(ref_scale=0.0)


# ---------------------------------------------------------------------------------- saving
@pytest.mark.slow
def test_lora_save_load_roundtrip_and_merged_export(tiny_dir, tmp_path):
    from diffusers import Flux2KleinPipeline

    backend = load(tiny_dir)
    base_out = sample(backend)
    train_steps(backend, 2)
    tuned_out = sample(backend)
    assert (tuned_out - base_out).abs().max() > 1e-4  # the adapters do something

    backend.save_pretrained(tmp_path / "lora")
    assert sorted(os.listdir(tmp_path / "lora")) == sorted([CONFIG_NAME, LORA_WEIGHTS_NAME])
    assert json.loads((tmp_path / "lora" / CONFIG_NAME).read_text())["pretrained"] == str(tiny_dir)
    reloaded = Flux2KleinBackend.from_pretrained(tmp_path / "lora")
    assert torch.equal(sample(reloaded), tuned_out)

    # diffusers itself reads the LoRA file
    pipe = Flux2KleinPipeline.from_pretrained(tiny_dir)
    pipe.load_lora_weights(tmp_path / "lora", weight_name=LORA_WEIGHTS_NAME)
    assert len(pipe.get_list_adapters()["transformer"]) == 1

    backend.save_merged(tmp_path / "merged")
    assert not list((tmp_path / "merged").rglob("*.bin"))
    merged = load(tmp_path / "merged")  # a plain diffusers directory, loaded as a base
    torch.testing.assert_close(sample(merged), tuned_out, atol=1e-5, rtol=0)
    assert torch.equal(sample(backend), tuned_out)  # merging did not change the live model


def test_full_finetune_save_load(tiny_dir, tmp_path):
    backend = load(tiny_dir, finetune="full")
    train_steps(backend, 1, lr=1e-2)
    out = sample(backend)
    backend.save_pretrained(tmp_path / "full")
    assert (tmp_path / "full" / "transformer" / "diffusion_pytorch_model.safetensors").is_file()
    assert torch.equal(sample(Flux2KleinBackend.from_pretrained(tmp_path / "full")), out)


# ---------------------------------------------------------------------------------- text cache
def test_text_embedding_cache_lets_the_encoder_go(tiny_dir, tmp_path):
    cache = tmp_path / "text"
    backend = load(tiny_dir, text_cache_dir=str(cache))
    prompts = ["estimate the depth", "draw the normals", "estimate the depth"]
    direct = backend._encode_prompts(prompts[:2])
    assert backend.precompute_text_embeddings(prompts) == 2
    assert backend.precompute_text_embeddings(prompts) == 0
    assert len(list(cache.rglob("*.safetensors"))) == 2

    fresh = load(tiny_dir, text_cache_dir=str(cache))
    fresh.release_text_encoder()
    embeds, txt_ids = fresh.prompt_embeddings(prompts)
    assert embeds.shape == (3, 24, 48) and txt_ids.shape == (24, 4)
    torch.testing.assert_close(embeds[:2], direct)
    torch.testing.assert_close(embeds[2], direct[0])
    batch = make_batch(0)
    batch.prompts = prompts[:2]
    assert torch.isfinite(fresh.training_loss(batch, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="not in the text-embedding cache"):
        fresh.prompt_embeddings(["a prompt never seen"])
    # another encoder setting never reads these entries
    other = load(tiny_dir, text_cache_dir=str(cache), max_sequence_length=16)
    other.release_text_encoder()
    with pytest.raises(ValueError, match="not in the text-embedding cache"):
        other.prompt_embeddings(["estimate the depth"])


# ---------------------------------------------------------------------------------- tasks
def test_sample_decodes_to_a_depth_map(tiny_dir):
    import openbanana

    def decode_depth(rgb):
        return openbanana.decode("depth", rgb).value

    backend = load(tiny_dir)
    images = sample(backend, steps=1)
    assert images.shape == (2, 3, SIZE, SIZE) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    rgb = ((images.permute(0, 2, 3, 1) + 1) * 127.5).round().to(torch.uint8).numpy()  # [B, H, W, 3]
    depth_m = decode_depth(rgb)
    assert depth_m.shape == (2, SIZE, SIZE) and depth_m.dtype == np.float32
    assert np.isfinite(depth_m).all() and (depth_m >= 0).all()
    assert np.array_equal(depth_m, decode_depth(((sample(backend, steps=1).permute(0, 2, 3, 1) + 1) * 127.5)
                                                .round().to(torch.uint8).numpy()))  # deterministic


def test_untuned_base_as_a_pipeline_folder(tiny_dir, tmp_path):
    """The zero-shot baseline: a finetune='none' backend wrapped for `openbanana predict/eval`."""
    from openbanana.backends.flux2_klein import write_pipeline_dir
    from openbanana.pipeline import OpenBananaPipeline

    out = write_pipeline_dir(load(tiny_dir, finetune="none"), tmp_path / "pipe", resolution=SIZE)
    assert sorted(os.listdir(out / "backend")) == [CONFIG_NAME]  # no weights: the config names the base
    pipe = OpenBananaPipeline.from_pretrained(out)
    assert pipe.backend.trainable_parameters() == []
    rgb = (np.random.default_rng(1).random((40, 56, 3)) * 255).astype(np.uint8)
    pred = pipe.predict(rgb, task="depth")
    assert np.asarray(pred.answer).shape == (40, 56)  # answered at the input's size
    with pytest.raises(ValueError, match="multiple of 4"):
        write_pipeline_dir(load(tiny_dir, finetune="none"), tmp_path / "bad", resolution=30)


# ---------------------------------------------------------------------------------- distributed
SPAWN_TIMEOUT_S = 240  # two tiny processes take ~7 s; a hang fails the test instead of stalling the suite


def _in_group(rank: int, world: int, port: int, step) -> None:
    """Run ``step()`` inside a two-process gloo group whose collectives time out instead of waiting
    forever, then leave it together. Everything that holds the group (a DDP wrapper's reducer, FSDP's
    sharded parameters) must live in ``step``'s frame, so that it is freed before the last barrier:
    freed at the worker's return instead, after ``destroy_process_group`` and while the peer was
    exiting, its C++ destructors hung for good in about 1 run of 20 (faulthandler: past the worker's
    last Python line; a clean-clone CI run stalled there)."""
    import gc
    from datetime import timedelta

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        step()
        gc.collect()
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _spawn_two(worker, *args) -> None:
    """Run ``worker(rank, 2, port, *args)`` in two fresh processes on a free port; fail (never hang)
    past :data:`SPAWN_TIMEOUT_S`."""
    import socket
    import time

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.start_processes(worker, args=(2, port, *args), nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail(f"two-process run still going after {SPAWN_TIMEOUT_S} s: killed")


def _ddp_worker(rank: int, world: int, port: int, tiny_dir: str, out_dir: str) -> None:
    _in_group(rank, world, port, lambda: _ddp_step(rank, world, tiny_dir, out_dir))


def _ddp_step(rank: int, world: int, tiny_dir: str, out_dir: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    backend = load(Path(tiny_dir))
    model = DDP(backend)  # parameters and buffers broadcast from rank 0
    opt = torch.optim.AdamW(backend.trainable_parameters(), lr=1e-2)
    start = torch.cat([p.detach().flatten() for p in backend.trainable_parameters()])
    loss = model(make_batch(100 + rank), generator=torch.Generator().manual_seed(rank))  # different data
    loss.backward()
    opt.step()
    flat = torch.cat([p.detach().flatten() for p in backend.trainable_parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    losses = [torch.zeros(1) for _ in range(world)]
    dist.all_gather(losses, loss.detach().reshape(1))
    if rank == 0:
        Path(out_dir, "result.json").write_text(json.dumps({
            "max_rank_diff": float((gathered[0] - gathered[1]).abs().max()),
            "moved": float((flat - start).abs().max()),
            "losses": [float(x) for x in losses],
        }))


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tiny_dir, tmp_path):
    _spawn_two(_ddp_worker, str(tiny_dir), str(tmp_path))
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["losses"][0] != result["losses"][1]  # the ranks saw different data...
    assert result["moved"] > 0
    assert result["max_rank_diff"] == 0.0  # ...and still hold identical weights after the step


def _fsdp_batches(rank: int, step: int) -> tuple[Batch, torch.Generator]:
    """Rank ``rank``'s half of step ``step``'s global batch, with its own noise."""
    # the ranks' batches differ in which samples have an input image (the backend's transformer calls
    # per batch differ unless it keeps the processes in step under FSDP)
    return make_batch(200 + 10 * step + rank, has_cond=[True, rank == 0]), torch.Generator().manual_seed(
        1000 * step + rank)


FSDP_STEPS = 2


def _fsdp_worker(rank: int, world: int, port: int, tiny_dir: str, out_dir: str, finetune: str) -> None:
    _in_group(rank, world, port, lambda: _fsdp_step(rank, world, tiny_dir, out_dir, finetune))


def _fsdp_step(rank: int, world: int, tiny_dir: str, out_dir: str, finetune: str) -> None:
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    from openbanana.training.distributed import TrainingObjective, fully_shard_objective

    backend = load(Path(tiny_dir), finetune=finetune)
    objective = TrainingObjective(backend)
    fully_shard_objective(objective, backend, "no")  # what the loop does with fsdp: true
    units = backend.fsdp_units()
    local = {n: p.to_local().numel() for n, p in backend.named_parameters() if isinstance(p, DTensor)}
    opt = torch.optim.AdamW(backend.trainable_parameters(), lr=1e-2)
    losses = []
    for step in range(FSDP_STEPS):
        batch, gen = _fsdp_batches(rank, step)
        loss = objective(batch, gen)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    full = get_model_state_dict(backend, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        trainable = {n for n, p in backend.named_parameters() if p.requires_grad}
        save_file({k: v.contiguous() for k, v in full.items() if k in trainable},
                  str(Path(out_dir, "fsdp.safetensors")))
        Path(out_dir, "result.json").write_text(json.dumps({
            "units": [type(u).__name__ for u in units],
            "units_sharded": all(isinstance(u, FSDPModule) for u in units),
            "all_dtensor": len(local) == len(list(backend.parameters())),
            "local_numel": sum(local.values()), "numel": sum(p.numel() for p in backend.parameters()),
            "losses": losses,
        }))


@pytest.mark.slow
@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_two_process_fsdp_one_unit_per_block_matches_one_process(tiny_dir, tmp_path, finetune):
    """FSDP2 with ``fsdp_units()`` (one unit per transformer block) over two CPU processes trains the
    same weights as one process on the same global batch (gradients of the two halves averaged)."""
    from safetensors.torch import load_file

    _spawn_two(_fsdp_worker, str(tiny_dir), str(tmp_path), finetune)
    result = json.loads((tmp_path / "result.json").read_text())
    n_double, n_single = 1, 1  # the tiny geometry (flux2_random)
    # FSDP2 turns each unit's class into FSDP<class>
    assert result["units"] == ["FSDPFlux2TransformerBlock"] * n_double + ["FSDPFlux2SingleTransformerBlock"] * n_single
    assert result["units_sharded"] and result["all_dtensor"]
    assert result["local_numel"] < 0.6 * result["numel"]  # rank 0 holds about half of every tensor
    # one process, the same two halves with the same noise, their losses averaged
    backend = load(tiny_dir, finetune=finetune)
    start = {n: p.detach().clone() for n, p in backend.named_parameters() if p.requires_grad}
    opt = torch.optim.AdamW(backend.trainable_parameters(), lr=1e-2)
    for step in range(FSDP_STEPS):
        loss = sum(backend.training_loss(*_fsdp_batches(rank, step)) for rank in range(2)) / 2
        loss.backward()
        opt.step()
        opt.zero_grad()
    sharded = load_file(str(tmp_path / "fsdp.safetensors"))
    ref = {n: p.detach() for n, p in backend.named_parameters() if p.requires_grad}
    assert sharded.keys() == ref.keys()
    for k, v in ref.items():
        assert torch.allclose(sharded[k], v, atol=2e-5, rtol=1e-4), (k, float((sharded[k] - v).abs().max()))
    assert max(float((v - start[k]).abs().max()) for k, v in ref.items()) > 1e-3  # it trained


# ---------------------------------------------------------------------------------- training loop
@pytest.mark.slow
def test_project_training_loop_and_pipeline_load_the_lora(tiny_dir, tmp_path):
    """The project's one Accelerate loop trains the backend; the exported pipeline predicts depth."""
    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.training.config import TrainConfig
    from openbanana.training.loop import train

    cfg = TrainConfig.from_dict({
        "backend": "flux2-klein",
        "backend_config": asdict(tiny_config(pretrained=str(tiny_dir))),
        "data_source": "toy", "resolution": SIZE, "batch_size": 2, "mixed_precision": "no",
        "stages": [{"name": "instruct", "data": {"vision_share": 0.5}, "steps": 2, "lr": 1e-3, "warmup_steps": 1}],
        "ckpt_every": 0, "keep_checkpoints": 1, "eval_batches": 1, "log_every": 1,
    })
    out = train(cfg, tmp_path / "run", progress=False)
    assert (out / "backend" / LORA_WEIGHTS_NAME).is_file()
    ema = load_file_keys(out / "checkpoints")
    assert ema and all("lora_" in k for k in ema)  # the EMA shadows the adapters, not the frozen base
    pipe = OpenBananaPipeline.from_pretrained(out)
    rgb = (np.random.default_rng(0).random((SIZE, SIZE, 3)) * 255).astype(np.uint8)
    pred = pipe.predict(rgb, task="depth")
    depth_m = np.asarray(pred.answer)
    valid = np.ones(depth_m.shape, bool) if pred.valid is None else pred.valid
    assert depth_m.shape == (SIZE, SIZE) and valid.any()
    assert np.isfinite(depth_m[valid]).all() and (depth_m[valid] >= 0).all()


def load_file_keys(ckpt_root: Path) -> list[str]:
    from safetensors import safe_open

    files = sorted(ckpt_root.glob("*/ema.safetensors"))
    with safe_open(str(files[-1]), framework="pt") as f:
        return list(f.keys())


# ---------------------------------------------------------------------------------- full-size geometry
def test_full_size_klein_4b_geometry_on_the_meta_device():
    """The published 4B geometry (what the benchmark builds) fits together at 1024 px: shapes only."""
    from openbanana.backends.flux2_random import build_components

    comp = build_components("klein-4b", device="meta", dtype=torch.bfloat16)
    assert sum(p.numel() for p in comp["transformer"].parameters()) == 3_875_544_576
    backend = Flux2KleinBackend.from_components(comp, Flux2KleinConfig(
        pretrained="random", finetune="lora", lora_rank=64, lora_alpha=64.0, text_encoder_out_layers=OUT_LAYERS["klein-4b"]))
    assert sum(p.numel() for p in backend.trainable_parameters()) == 96_337_920
    meta = torch.device("meta")
    x0 = backend.encode_images(torch.zeros(1, 3, 1024, 1024, device=meta))
    assert x0.shape == (1, 128, 64, 64) and backend.multiple_of == 16
    embeds = torch.zeros(1, 512, 3 * 2560, device=meta, dtype=torch.bfloat16)  # Qwen3-4B layers 9, 18, 27
    txt_ids = torch.zeros(512, 4, dtype=torch.long, device=meta)
    v = backend.predict_velocity(torch.zeros_like(x0), torch.ones(1, device=meta), x0, embeds, txt_ids)
    assert v.shape == x0.shape
    assert backend.decode_latents(v).shape == (1, 3, 1024, 1024)
