"""A judge of text-to-image samples: does a picture show the place and the objects its prompt names?

The synthetic world writes every caption from its scene (:func:`~openbanana.data.synthetic.language.
caption`): a place (kitchen, city street, ...) and up to six object classes, the most visible
first. The judge is a small CNN, trained here on renders of the world's *train* split to read
those labels back from pixels: one place out of :data:`PLACES`, and which of :data:`OBJECTS` a
caption of that picture would name. It is independent of the generator it judges (its own
weights, its own training), so it can say of a sample what it says of a render: which place, which
objects. Asked of val renders it gives the ceiling a perfect generator would reach; asked of
samples scored against another scene's prompt it gives the floor of a generator that ignores its
prompt (:func:`agreement`).

Pure parts (labels, the network, the agreement scores) and the one training loop live here; the
command that samples a model and prints the table is ``scripts/prompt_objects.py``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from openbanana.data.synthetic.classes import THING_CLASSES
from openbanana.data.synthetic.language import NOT_REFERABLE, caption_groups, caption_place, place_words
from openbanana.data.synthetic.splits import split_config
from openbanana.errors import check_config_keys

#: the places the captions of the train split (and of val, which shares its places) name, in label
#: order; the shift split's places are never rendered in training, so the judge cannot know them
PLACES: tuple[str, ...] = tuple(sorted(place_words(r) for r in (*split_config("train").indoor_types,
                                                                *split_config("train").outdoor_types)))
#: the object classes captions can name, in label order
OBJECTS: tuple[str, ...] = tuple(sorted(THING_CLASSES - NOT_REFERABLE))

CONFIG_FILE = "judge.json"
WEIGHTS_FILE = "judge.safetensors"


@dataclass(frozen=True)
class JudgeConfig:
    """How the judge is built and trained.

    Attributes:
        size: side of the square input in pixels (pictures are area-resized to it).
        render_size: side the training scenes are rendered at (the generator's resolution, so the
            captions' "most visible" objects are the same ones).
        widths: channels of the four stride-2 conv blocks.
        train_scenes: rendered training scenes (train split, scenes ``0 .. train_scenes - 1``).
        epochs, batch_size, lr: AdamW with a cosine schedule over ``epochs``.
        seed: weights and batch order.
        grayscale: the judge sees luminance only, so that it must read shapes: with colour, blotches
            in a tree's green or a sofa's purple pass for the objects.
        blur_sigma: each training batch is blurred with a Gaussian of a random sigma up to this
            (input pixels): samples are softer than renders, and fine texture is what a judge should
            not lean on.
    """

    size: int = 32
    render_size: int = 128
    widths: tuple[int, ...] = (32, 64, 128, 192)
    train_scenes: int = 10000
    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    grayscale: bool = True
    blur_sigma: float = 1.5

    def __post_init__(self) -> None:
        problems = []
        if self.size < 8 or self.render_size < 8:
            problems.append(f"size and render_size must be >= 8, got {self.size}, {self.render_size}")
        if not self.widths or any(w < 1 for w in self.widths):
            problems.append(f"widths must be positive, got {self.widths}")
        if self.train_scenes < 1 or self.epochs < 1 or self.batch_size < 1:
            problems.append("train_scenes, epochs and batch_size must be >= 1")
        if self.blur_sigma < 0:
            problems.append(f"blur_sigma must be >= 0, got {self.blur_sigma}")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if problems:
            raise ValueError("JudgeConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JudgeConfig:
        check_config_keys(cls, d, "JudgeConfig")
        return cls(**{k: (tuple(v) if k == "widths" else v) for k, v in d.items()})


# ---------------------------------------------------------------------------- labels
def prompt_labels(scene: Any) -> tuple[int, np.ndarray]:
    """What a scene's caption names: the index of its place in :data:`PLACES` and a bool vector over
    :data:`OBJECTS` (True for the classes the caption names)."""
    place = caption_place(scene)
    if place not in PLACES:
        raise ValueError(f"a scene of place {place!r}; the judge knows the train split's places: "
                         f"{', '.join(PLACES)}")
    named = np.zeros(len(OBJECTS), bool)
    for cls, _ in caption_groups(scene):
        named[OBJECTS.index(cls)] = True
    return PLACES.index(place), named


# ---------------------------------------------------------------------------- network
class JudgeNet(nn.Module):
    """Stride-2 conv blocks (conv 3x3, GroupNorm, SiLU, conv 3x3, GroupNorm, SiLU), global average
    pooling, and one linear layer giving place logits and object logits."""

    def __init__(self, cfg: JudgeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        blocks, cin = [], 3
        for w in cfg.widths:
            blocks += [nn.Conv2d(cin, w, 3, stride=2, padding=1), nn.GroupNorm(min(8, w), w), nn.SiLU(),
                       nn.Conv2d(w, w, 3, padding=1), nn.GroupNorm(min(8, w), w), nn.SiLU()]
            cin = w
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, len(PLACES) + len(OBJECTS))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: ``[B, 3, size, size]`` in [-1, 1] -> place logits ``[B, P]``, object logits ``[B, O]``."""
        y = self.head(self.body(x).mean(dim=(2, 3)))  # [B, P + O]
        return y[:, :len(PLACES)], y[:, len(PLACES):]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``[B, C, H, W]`` blurred by a separable Gaussian of ``sigma`` pixels (reflected edges;
    ``sigma`` <= 0: unchanged)."""
    if sigma <= 0:
        return x
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma) ** 2)
    k = k / k.sum()
    C = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)


#: Rec. 601 luma weights of R, G, B
LUMA = (0.299, 0.587, 0.114)


def to_input(images: np.ndarray, size: int, grayscale: bool = False) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` pictures -> float ``[N, 3, size, size]`` in [-1, 1] (area resize; with
    ``grayscale`` every channel holds the luma)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1  # [N, 3, H, W]
    if grayscale:
        x = (x * torch.tensor(LUMA)[None, :, None, None]).sum(1, keepdim=True).expand(-1, 3, -1, -1)
    return x if x.shape[-2:] == (size, size) else F.interpolate(x, size=(size, size), mode="area")


@torch.no_grad()
def judge(net: JudgeNet, images: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The judge's probabilities for uint8 ``[N, H, W, 3]`` pictures: places ``[N, P]`` (softmax) and
    objects ``[N, O]`` (each a sigmoid)."""
    net.eval()
    places, objects = [], []
    for i in range(0, len(images), batch_size):
        p, o = net(to_input(images[i:i + batch_size], net.cfg.size, net.cfg.grayscale))
        places.append(p.softmax(-1).numpy())
        objects.append(o.sigmoid().numpy())
    return np.concatenate(places), np.concatenate(objects)


# ---------------------------------------------------------------------------- scores
def agreement(place_probs: np.ndarray, object_probs: np.ndarray, places: np.ndarray, named: np.ndarray,
              threshold: float = 0.5) -> dict[str, float]:
    """How well pictures show what their prompts name, as the judge sees them.

    Args:
        place_probs: ``[N, P]``; object_probs: ``[N, O]`` (:func:`judge`).
        places: ``[N]`` the prompts' place indices; named: bool ``[N, O]`` the prompts' objects.
        threshold: an object is seen where its probability is at least this.
    Returns:
        ``place_accuracy`` (the judge's most likely place is the prompt's), ``object_recall`` (share of
        all named objects seen), ``object_precision`` (share of all seen objects that were named) and
        ``object_f1`` (their harmonic mean), each in [0, 1].
    """
    places, named = np.asarray(places), np.asarray(named, bool)
    if place_probs.shape[0] != len(places) or object_probs.shape != named.shape:
        raise ValueError(f"shapes differ: {place_probs.shape}, {object_probs.shape}, {places.shape}, {named.shape}")
    seen = object_probs >= threshold
    hits = float((seen & named).sum())
    recall = hits / max(float(named.sum()), 1.0)
    precision = hits / max(float(seen.sum()), 1.0)
    return {
        "place_accuracy": float((place_probs.argmax(-1) == places).mean()),
        "object_recall": recall,
        "object_precision": precision,
        "object_f1": 0.0 if hits == 0 else 2 * recall * precision / (recall + precision),
    }


# ---------------------------------------------------------------------------- training and files
def render_labelled(indices: range, split: str, size: int, progress: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Scenes ``indices`` of ``split`` rendered at ``size``: uint8 pictures ``[N, size, size, 3]``,
    place indices ``[N]``, named objects ``[N, O]`` and captions."""
    from tqdm import tqdm

    from openbanana.data.synthetic.generate import render_scene

    images, places, named, captions = [], [], [], []
    for i in tqdm(indices, desc=f"rendering {split}", unit="scene", disable=not progress):
        scene = render_scene(i, split=split, size=size)
        p, o = prompt_labels(scene)
        images.append(scene.rgb)
        places.append(p)
        named.append(o)
        captions.append(scene.caption)
    return np.stack(images), np.array(places), np.stack(named), captions


def train_judge(cfg: JudgeConfig, progress: bool = False) -> JudgeNet:
    """Render ``cfg.train_scenes`` train-split scenes and fit a :class:`JudgeNet` to their caption
    labels (cross-entropy on the place, binary cross-entropy on each object; random left-right flips
    and blur)."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    images, places, named, _ = render_labelled(range(cfg.train_scenes), "train", cfg.render_size, progress)
    x = to_input(images, cfg.size, cfg.grayscale)  # [N, 3, size, size]
    y_place, y_obj = torch.from_numpy(places).long(), torch.from_numpy(named).float()
    net = JudgeNet(cfg)
    steps_per_epoch = -(-len(x) // cfg.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(cfg.seed)
    net.train()
    bar = tqdm(total=cfg.epochs * steps_per_epoch, desc="training the judge", unit="step", disable=not progress)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            xb = gaussian_blur(xb, cfg.blur_sigma * float(torch.rand(1, generator=gen)))
            p, o = net(xb)
            loss = F.cross_entropy(p, y_place[idx]) + F.binary_cross_entropy_with_logits(o, y_obj[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return net.eval()


def save_judge(net: JudgeNet, path: str | Path) -> Path:
    """Write ``judge.json`` (its :class:`JudgeConfig`) and ``judge.safetensors`` to folder ``path``."""
    from safetensors.torch import save_file

    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / CONFIG_FILE).write_text(json.dumps(asdict(net.cfg), indent=2) + "\n")
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(p / WEIGHTS_FILE))
    return p


def load_judge(path: str | Path) -> JudgeNet:
    """Load what :func:`save_judge` wrote.

    Raises:
        FileNotFoundError: a file is missing. ValueError: the files do not make a judge.
    """
    from safetensors.torch import load_file

    p = Path(path)
    if not (p / CONFIG_FILE).is_file() or not (p / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{p} must hold {CONFIG_FILE} and {WEIGHTS_FILE} (written by save_judge)")
    net = JudgeNet(JudgeConfig.from_dict(json.loads((p / CONFIG_FILE).read_text())))
    try:
        net.load_state_dict(load_file(str(p / WEIGHTS_FILE)), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{p / WEIGHTS_FILE} does not fit {p / CONFIG_FILE}: {exc}") from None
    return net.eval()
