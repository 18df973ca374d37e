"""Dataclasses of the synthetic world: the scene description (what is where) and the rendered
scene (pixels plus ground truth plus language)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from openbanana.data.synthetic.materials import Material


# math.cos / math.sin of math.radians(deg) give numpy's np.cos(np.deg2rad(deg)) to the bit, at a
# fraction of the cost of numpy calls on scalars (test_world checks this)
def rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_x(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass
class Camera:
    """A pinhole camera in the world (world frame: +y up, metres).

    Args:
        position_m: camera centre in the world frame.
        yaw_deg: turn about world +y (0 looks along world -z, positive turns left).
        pitch_deg: tilt up (+) or down (-). roll_deg: rotation about the viewing axis.
        fov_deg: horizontal field of view. Recorded for evaluation; never a model input.
    """

    position_m: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    fov_deg: float

    @property
    def height_m(self) -> float:
        return float(self.position_m[1])

    def cam_to_world(self) -> np.ndarray:
        """(3, 3) rotation taking camera-frame vectors (+x right, +y up, +z toward viewer) to world."""
        return rot_y(self.yaw_deg) @ rot_x(self.pitch_deg) @ rot_z(self.roll_deg)

    def world_to_cam(self) -> np.ndarray:
        return self.cam_to_world().T

    def focal_px(self, width: int) -> float:
        return 0.5 * width / np.tan(np.deg2rad(self.fov_deg) / 2)

    def as_dict(self) -> dict:
        return {"fov_deg": float(self.fov_deg), "height_m": self.height_m, "pitch_deg": float(self.pitch_deg),
                "roll_deg": float(self.roll_deg), "yaw_deg": float(self.yaw_deg),
                "position_m": [float(x) for x in self.position_m]}


@dataclass
class Light:
    """A light: ``point`` at position_m, or ``sun`` shining along direction (world, unit, travel
    direction). color is linear RGB, intensity in arbitrary units (exposure is automatic)."""

    kind: str
    color: tuple[float, float, float]
    intensity: float
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, float, float] = (0.0, -1.0, 0.0)
    instance_id: int = 0  # the lamp object that emits it (0 = none, e.g. the sun)
    shadows: bool = True  # False: an unshadowed fill light (only the strongest lights cast shadows)


@dataclass(slots=True)
class Part:
    """One template instance: world point = rotation @ (size_m * template_point) + offset, with
    rotation = rot_y(yaw_deg) @ tilt (tilt None = identity)."""

    shape: str
    size_m: tuple[float, float, float]
    offset: tuple[float, float, float]
    yaw_deg: float
    tilt: np.ndarray | None
    material: Material
    class_name: str
    instance_id: int = 0
    caster: bool = True  # False: ignored by shadow rays (glass panes, lamp shades, bulbs)

    @property
    def rotation(self) -> np.ndarray:
        r = rot_y(self.yaw_deg)
        return r if self.tilt is None else r @ self.tilt


@dataclass
class SceneObject:
    """Per-object metadata (one instance id per object; an object may have several parts).

    position_m is the object centre in the camera frame (+x right, +y up, +z toward the viewer),
    filled at render time with visible_px (pixels of the instance map), bbox_px (x0, y0, x1, y1),
    centroid_px (x, y) and depth_m (median z-depth of its pixels).
    """

    instance_id: int
    class_name: str
    color_name: str
    color_rgb: tuple[int, int, int]
    size_m: tuple[float, float, float]
    position_world_m: tuple[float, float, float]
    shape: str = "box"
    support: int | None = None  # instance id of the object it stands on (None = ground)
    rolls: bool = False
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    visible_px: int = 0
    bbox_px: tuple[int, int, int, int] = (0, 0, 0, 0)
    centroid_px: tuple[float, float] = (0.0, 0.0)
    depth_m: float = float("inf")

    def as_dict(self) -> dict:
        return {
            "instance_id": self.instance_id, "class_name": self.class_name, "color_name": self.color_name,
            "color_rgb": list(self.color_rgb), "size_m": [round(float(x), 4) for x in self.size_m],
            "position_m": [round(float(x), 4) for x in self.position_m],
            "position_world_m": [round(float(x), 4) for x in self.position_world_m], "shape": self.shape,
            "support": self.support, "rolls": self.rolls, "visible_px": int(self.visible_px),
            "bbox_px": [int(x) for x in self.bbox_px], "centroid_px": [float(x) for x in self.centroid_px],
            "depth_m": None if not np.isfinite(self.depth_m) else round(float(self.depth_m), 4),
        }


@dataclass
class Environment:
    """Sky, ambient light, fog and exposure of a scene (linear RGB)."""

    sky_zenith: tuple[float, float, float] = (0.25, 0.45, 0.85)
    sky_horizon: tuple[float, float, float] = (0.75, 0.82, 0.9)
    ambient_up: tuple[float, float, float] = (0.25, 0.27, 0.3)
    ambient_down: tuple[float, float, float] = (0.12, 0.1, 0.08)
    fog_m: float = 0.0  # 0 = no fog; else e-folding distance in metres
    exposure: float = 1.0  # multiplier on the automatic exposure
    clouds: float = 0.3


@dataclass
class WorldSpec:
    """Everything that determines a scene's pixels: parts, lights, camera, environment."""

    seed: int
    split: str
    kind: str  # "indoor" | "outdoor"
    room_type: str
    parts: list[Part]
    objects: list[SceneObject]
    lights: list[Light]
    camera: Camera
    env: Environment


@dataclass
class Scene:
    """A rendered scene with exact ground truth.

    Shape:
        rgb: (H, W, 3) uint8, anti-aliased. depth_m: (H, W) float32 metric z-depth, +inf on sky.
        normals: (H, W, 3) float32 unit, camera frame (+x right, +y up, +z toward viewer), 0 on sky.
        semantic: (H, W) uint8 index into CLASSES (255 = ignore). instance: (H, W) int32, 0 = none.
    """

    rgb: np.ndarray
    depth_m: np.ndarray
    normals: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    objects: list[SceneObject]
    camera: Camera
    kind: str
    split: str
    seed: int
    room_type: str = ""
    caption: str = ""
    referring: list[tuple[str, int]] = field(default_factory=list)
    reasoning: list[tuple[str, list[int]]] = field(default_factory=list)
    spec: WorldSpec | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[0], self.rgb.shape[1]

    def object(self, instance_id: int) -> SceneObject:
        for o in self.objects:
            if o.instance_id == instance_id:
                return o
        raise ValueError(f"scene {self.seed} has no object with instance id {instance_id}")

    def metadata(self) -> dict:
        """JSON-ready metadata: camera, objects and language (no arrays)."""
        return {
            "seed": int(self.seed), "split": self.split, "kind": self.kind, "room_type": self.room_type,
            "camera": self.camera.as_dict(), "objects": [o.as_dict() for o in self.objects],
            "caption": self.caption, "referring": [[e, int(i)] for e, i in self.referring],
            "reasoning": [[q, [int(i) for i in ids]] for q, ids in self.reasoning],
        }


@dataclass
class Edit:
    """An editing pair: ``source`` edited by ``instruction`` gives ``target``.

    Shape:
        source, target: (H, W, 3) uint8. changed_mask: (H, W) bool, True where the edit may change
        pixels (the object's old and new footprints and the shadows they cast; everywhere for light).
    """

    instruction: str
    source: np.ndarray
    target: np.ndarray
    kind: str  # "recolor" | "remove" | "move" | "add" | "light"
    changed_mask: np.ndarray
    instance_id: int = 0
    seed: int = 0
    split: str = "train"
    source_scene: Scene | None = field(default=None, repr=False)
    target_scene: Scene | None = field(default=None, repr=False)
