"""The articulated humanoid of the Bodies benchmark, written as MJCF text (our own model, no
model file is downloaded), with per-actor appearance and per-clip scenes.

The body faces +x with its left side at +y and z up (MuJoCo's convention); it stands on the
floor plane z = 0. It is posed kinematically from joint angles (:data:`DOFS`, each with its
limits), never simulated. The 15 labelled joints (:data:`JOINT_NAMES`) are MJCF sites at the
joint centres; ``"head"`` is the centre of the head sphere. Left/right are the *person's*.

Nothing here imports MuJoCo: :func:`body_xml` returns the text that
:mod:`landmarks.data.bodies_render` compiles.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "DOFS",
    "JOINT_NAMES",
    "JOINT_TOLERANCE",
    "SKELETON",
    "Actor",
    "Dof",
    "Scene",
    "body_xml",
    "sample_actor",
    "sample_scene",
]

#: The labelled joints, in label order (left/right: the person's own).
JOINT_NAMES: tuple[str, ...] = (
    "head", "neck",
    "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
)

#: Bones between labelled joints (index pairs into JOINT_NAMES), for drawing skeletons.
SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8),
    (8, 9), (9, 10), (10, 11), (8, 12), (12, 13), (13, 14),
)

#: How far (m, before the actor's girth scale) the body's surface may lie in front of a joint
#: centre while the joint still counts as visible: its own limb's radius plus a margin. A depth
#: buffer nearer than ``joint depth - tolerance`` at the joint's pixel means an occluder.
JOINT_TOLERANCE: dict[str, float] = {
    "head": 0.14, "neck": 0.14, "r_shoulder": 0.13, "l_shoulder": 0.13,
    "r_elbow": 0.08, "l_elbow": 0.08, "r_wrist": 0.08, "l_wrist": 0.08,
    "pelvis": 0.13, "r_hip": 0.11, "l_hip": 0.11, "r_knee": 0.09, "l_knee": 0.09,
    "r_ankle": 0.09, "l_ankle": 0.09,
}


@dataclass(frozen=True)
class Dof:
    """One hinge: its MJCF joint name and limits in degrees."""

    name: str
    lo: float
    hi: float


def _sided(name: str, lo: float, hi: float) -> list[Dof]:
    return [Dof(f"r_{name}", lo, hi), Dof(f"l_{name}", lo, hi)]


#: Every hinge of the body with its range (deg); the root (free joint) is posed separately.
DOFS: tuple[Dof, ...] = (
    Dof("abdomen_x", -20, 20), Dof("abdomen_y", -10, 40), Dof("abdomen_z", -35, 35),
    Dof("neck_x", -20, 20), Dof("neck_y", -25, 35), Dof("neck_z", -50, 50),
    *_sided("shoulder_flex", -50, 150), *_sided("shoulder_abd", -10, 140),
    *_sided("shoulder_twist", -60, 60), *_sided("elbow", 0, 140),
    *_sided("hip_flex", -25, 100), *_sided("hip_abd", -10, 40), *_sided("hip_twist", -30, 30),
    *_sided("knee", 0, 130), *_sided("ankle", -25, 30),
)


@dataclass(frozen=True)
class Actor:
    """One actor's look: colours (RGB in [0, 1]) of shirt, trousers, skin, hair and shoes; the
    textures of shirt and trousers; sleeve and leg lengths; height and girth scales."""

    shirt: tuple[float, float, float]
    shirt2: tuple[float, float, float]
    shirt_pattern: str  # "flat", "checker" or "gradient"
    trousers: tuple[float, float, float]
    trousers2: tuple[float, float, float]
    trousers_pattern: str
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    shoes: tuple[float, float, float]
    long_sleeves: bool
    shorts: bool
    height: float  # scale of every length
    girth: float  # scale of every radius

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Scene:
    """One clip's surroundings: floor texture, sky, light, and the camera path's parameters
    (degrees and metres; the path is in :func:`landmarks.data.bodies_render.camera_path`)."""

    floor1: tuple[float, float, float]
    floor2: tuple[float, float, float]
    floor_pattern: str  # "checker" or "dots"
    floor_repeat: float
    sky1: tuple[float, float, float]
    sky2: tuple[float, float, float]
    light_dir: tuple[float, float, float]
    light_diffuse: float
    ambient: float
    azimuth: float  # 180 = frontal (the body faces +x)
    elevation: float  # negative = looking down
    distance: float
    camera_sway: float  # amplitude of the mild camera motion (deg of azimuth)
    camera_phase: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


#: The camera's distance range (m). v2 frames the person as Human3.6M's crops do: the joints
#: span ~75% of the image height (v1's 2.7-3.2 m gave ~55%, a 35-px body at 64 px).
CAMERA_DISTANCE: tuple[float, float] = (2.1, 2.5)


def _colour(rng: np.random.Generator, sat: tuple[float, float] = (0.2, 0.9),
            val: tuple[float, float] = (0.2, 0.95)) -> tuple[float, float, float]:
    rgb = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*sat), rng.uniform(*val))
    return (round(rgb[0], 3), round(rgb[1], 3), round(rgb[2], 3))


def _skin(rng: np.random.Generator) -> tuple[float, float, float]:
    tone = rng.uniform(0.0, 1.0)  # dark to light
    base = np.array([0.36, 0.22, 0.14]) * (1 - tone) + np.array([0.96, 0.80, 0.68]) * tone
    return tuple(round(float(c), 3) for c in np.clip(base + rng.normal(0, 0.03, 3), 0, 1))


def sample_actor(seed: int) -> Actor:
    """The actor drawn from ``seed`` (deterministic)."""
    rng = np.random.default_rng([7, seed])
    patterns = ("flat", "checker", "gradient")
    return Actor(
        shirt=_colour(rng), shirt2=_colour(rng), shirt_pattern=str(rng.choice(patterns)),
        trousers=_colour(rng, val=(0.1, 0.8)), trousers2=_colour(rng, val=(0.1, 0.8)),
        trousers_pattern=str(rng.choice(patterns)),
        skin=_skin(rng), hair=_colour(rng, sat=(0.1, 0.7), val=(0.05, 0.6)),
        shoes=_colour(rng, val=(0.05, 0.7)),
        long_sleeves=bool(rng.uniform() < 0.5), shorts=bool(rng.uniform() < 0.3),
        height=round(float(rng.uniform(0.9, 1.1)), 3),
        girth=round(float(rng.uniform(0.85, 1.2)), 3),
    )


def sample_scene(seed: int) -> Scene:
    """The surroundings and camera of a clip drawn from ``seed`` (deterministic)."""
    rng = np.random.default_rng([11, seed])
    theta = rng.uniform(0, 2 * math.pi)
    tilt = rng.uniform(0.5, 1.2)  # light elevation below the zenith (rad)
    direction = (math.sin(tilt) * math.cos(theta), math.sin(tilt) * math.sin(theta),
                 -math.cos(tilt))
    return Scene(
        floor1=_colour(rng, val=(0.2, 0.9)), floor2=_colour(rng, val=(0.2, 0.9)),
        floor_pattern=str(rng.choice(("checker", "dots"))),
        floor_repeat=round(float(rng.uniform(2, 10)), 2),
        sky1=_colour(rng, sat=(0.0, 0.5)), sky2=_colour(rng, sat=(0.0, 0.5)),
        light_dir=tuple(round(c, 4) for c in direction),
        light_diffuse=round(float(rng.uniform(0.6, 1.0)), 3),
        ambient=round(float(rng.uniform(0.25, 0.5)), 3),
        azimuth=round(float(180 + rng.uniform(-45, 45)), 2),
        elevation=round(float(rng.uniform(-25, -2)), 2),
        distance=round(float(rng.uniform(*CAMERA_DISTANCE)), 3),
        camera_sway=round(float(rng.uniform(2, 8)), 2),
        camera_phase=round(float(rng.uniform(0, 2 * math.pi)), 3),
    )


def _rgb(c: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.3f}" for v in c)


def _texture(name: str, pattern: str, c1: tuple[float, float, float],
             c2: tuple[float, float, float]) -> str:
    builtin = {"flat": "flat", "checker": "checker", "gradient": "gradient"}[pattern]
    return (f'<texture name="{name}" type="cube" builtin="{builtin}" rgb1="{_rgb(c1)}" '
            f'rgb2="{_rgb(c2)}" width="32" height="32"/>')


def _limb(side: str, a: Actor) -> str:
    """The MJCF of one arm (inside the torso body); ``side`` is "r" or "l"."""
    s = -1.0 if side == "r" else 1.0
    h, g = a.height, a.girth
    upper, fore = 0.27 * h, 0.24 * h
    sleeve = "shirt" if a.long_sleeves else "skin"
    return f"""
      <body name="{side}_upper_arm" pos="0 {s * 0.19 * h * g:.4f} {0.40 * h:.4f}">
        <joint name="{side}_shoulder_flex" axis="0 -1 0"/>
        <joint name="{side}_shoulder_abd" axis="{s:.0f} 0 0"/>
        <joint name="{side}_shoulder_twist" axis="0 0 1"/>
        <site name="{side}_shoulder" size="0.01"/>
        <geom name="{side}_upper_arm" fromto="0 0 0 0 0 {-upper:.4f}" size="{0.045 * g:.4f}"
              material="shirt"/>
        <body name="{side}_forearm" pos="0 0 {-upper:.4f}">
          <joint name="{side}_elbow" axis="0 -1 0"/>
          <site name="{side}_elbow" size="0.01"/>
          <geom name="{side}_forearm" fromto="0 0 0 0 0 {-fore:.4f}" size="{0.038 * g:.4f}"
                material="{sleeve}"/>
          <body name="{side}_hand" pos="0 0 {-fore:.4f}">
            <site name="{side}_wrist" size="0.01"/>
            <geom name="{side}_hand" type="sphere" pos="0 0 {-0.05 * h:.4f}"
                  size="{0.045 * g:.4f}" material="skin"/>
          </body>
        </body>
      </body>"""


def _leg(side: str, a: Actor) -> str:
    """The MJCF of one leg (inside the pelvis body)."""
    s = -1.0 if side == "r" else 1.0
    h, g = a.height, a.girth
    thigh, shin = 0.40 * h, 0.38 * h
    shin_mat = "skin" if a.shorts else "trousers"
    return f"""
    <body name="{side}_thigh" pos="0 {s * 0.09 * h * g:.4f} {-0.04 * h:.4f}">
      <joint name="{side}_hip_flex" axis="0 -1 0"/>
      <joint name="{side}_hip_abd" axis="{s:.0f} 0 0"/>
      <joint name="{side}_hip_twist" axis="0 0 1"/>
      <site name="{side}_hip" size="0.01"/>
      <geom name="{side}_thigh" fromto="0 0 0 0 0 {-thigh:.4f}" size="{0.07 * g:.4f}"
            material="trousers"/>
      <body name="{side}_shin" pos="0 0 {-thigh:.4f}">
        <joint name="{side}_knee" axis="0 1 0"/>
        <site name="{side}_knee" size="0.01"/>
        <geom name="{side}_shin" fromto="0 0 0 0 0 {-shin:.4f}" size="{0.055 * g:.4f}"
              material="{shin_mat}"/>
        <body name="{side}_foot" pos="0 0 {-shin:.4f}">
          <joint name="{side}_ankle" axis="0 -1 0"/>
          <site name="{side}_ankle" size="0.01"/>
          <geom name="{side}_foot" fromto="{-0.03 * h:.4f} 0 {-0.05 * h:.4f} {0.13 * h:.4f} 0
                {-0.05 * h:.4f}" size="{0.04 * g:.4f}" material="shoes"/>
        </body>
      </body>
    </body>"""


def body_xml(actor: Actor, scene: Scene, marker: str | None = None,
             marker_radius: float = 0.05) -> str:
    """The MJCF text of ``actor`` in ``scene``.

    Args:
        actor: the body's look and proportions.
        scene: floor, sky and light (the camera is a free camera set per frame).
        marker: a joint name (:data:`JOINT_NAMES`): a red sphere of ``marker_radius`` m is
            added at that joint's site (tests: the label must lie on the marker's centroid).
        marker_radius: the marker's radius in metres.

    Returns:
        The XML text; joint limits are those of :data:`DOFS` (enforced by the pose sampler,
        the model is never simulated).
    """
    h, g = actor.height, actor.girth
    floor_tex = ("checker" if scene.floor_pattern == "checker" else "flat")
    mark = ' mark="random" random="0.06"' if scene.floor_pattern == "dots" else ""
    xml = f"""<mujoco model="bodies-humanoid">
  <compiler angle="degree"/>
  <visual>
    <global offwidth="512" offheight="512"/>
    <headlight ambient="{scene.ambient:.3f} {scene.ambient:.3f} {scene.ambient:.3f}"
               diffuse="0.25 0.25 0.25" specular="0 0 0"/>
    <quality shadowsize="1024"/>
    <map znear="0.05" zfar="30"/>
  </visual>
  <statistic extent="2" center="0 0 1"/>
  <default>
    <joint type="hinge" limited="false"/>
    <geom type="capsule" contype="0" conaffinity="0"/>
    <site rgba="0 0 0 0"/>
  </default>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="{_rgb(scene.sky1)}"
             rgb2="{_rgb(scene.sky2)}" width="64" height="64"/>
    <texture name="floor" type="2d" builtin="{floor_tex}" rgb1="{_rgb(scene.floor1)}"
             rgb2="{_rgb(scene.floor2)}" width="128" height="128"{mark}/>
    <material name="floor" texture="floor" texrepeat="{scene.floor_repeat:.2f} \
{scene.floor_repeat:.2f}" reflectance="0"/>
    {_texture("shirt", actor.shirt_pattern, actor.shirt, actor.shirt2)}
    {_texture("trousers", actor.trousers_pattern, actor.trousers, actor.trousers2)}
    <material name="shirt" texture="shirt" specular="0.1"/>
    <material name="trousers" texture="trousers" specular="0.1"/>
    <material name="skin" rgba="{_rgb(actor.skin)} 1" specular="0.2"/>
    <material name="hair" rgba="{_rgb(actor.hair)} 1" specular="0.1"/>
    <material name="shoes" rgba="{_rgb(actor.shoes)} 1" specular="0.3"/>
  </asset>
  <worldbody>
    <light directional="true" dir="{_rgb(scene.light_dir)}" castshadow="true"
           diffuse="{scene.light_diffuse:.3f} {scene.light_diffuse:.3f} \
{scene.light_diffuse:.3f}" pos="0 0 5"/>
    <geom name="floor" type="plane" size="20 20 0.1" material="floor"/>
    <body name="pelvis" pos="0 0 1">
      <freejoint name="root"/>
      <site name="pelvis" size="0.01"/>
      <geom name="pelvis" fromto="0 {-0.09 * h * g:.4f} 0 0 {0.09 * h * g:.4f} 0"
            size="{0.09 * g:.4f}" material="trousers"/>
      <body name="torso" pos="0 0 {0.06 * h:.4f}">
        <joint name="abdomen_x" axis="1 0 0"/>
        <joint name="abdomen_y" axis="0 1 0"/>
        <joint name="abdomen_z" axis="0 0 1"/>
        <geom name="waist" fromto="0 0 0 0 0 {0.2 * h:.4f}" size="{0.1 * g:.4f}"
              material="shirt"/>
        <geom name="chest" fromto="0 {-0.1 * h * g:.4f} {0.32 * h:.4f} 0 {0.1 * h * g:.4f} \
{0.32 * h:.4f}" size="{0.11 * g:.4f}" material="shirt"/>
        <body name="head" pos="0 0 {0.46 * h:.4f}">
          <joint name="neck_x" axis="1 0 0"/>
          <joint name="neck_y" axis="0 1 0"/>
          <joint name="neck_z" axis="0 0 1"/>
          <site name="neck" size="0.01"/>
          <geom name="neck" fromto="0 0 0 0 0 {0.08 * h:.4f}" size="{0.045 * g:.4f}"
                material="skin"/>
          <site name="head" pos="0 0 {0.17 * h:.4f}" size="0.01"/>
          <geom name="head" type="sphere" pos="0 0 {0.17 * h:.4f}" size="{0.1 * h:.4f}"
                material="skin"/>
          <geom name="hair" type="sphere" pos="{-0.02 * h:.4f} 0 {0.19 * h:.4f}"
                size="{0.097 * h:.4f}" material="hair"/>
        </body>{_limb("r", actor)}{_limb("l", actor)}
      </body>{_leg("r", actor)}{_leg("l", actor)}
    </body>
  </worldbody>
</mujoco>
"""
    if marker is not None:
        if marker not in JOINT_NAMES:
            raise ValueError(f"marker {marker!r} is not a joint; expected one of "
                             f"{', '.join(JOINT_NAMES)}")
        tag = f'<site name="{marker}"'
        start = xml.index(tag)
        end = xml.index("/>", start) + 2
        site = xml[start:end]
        pos = site.split('pos="')[1].split('"')[0] if 'pos="' in site else "0 0 0"
        xml = (xml[:end] + f'\n<geom name="marker" type="sphere" pos="{pos}" '
               f'size="{marker_radius}" rgba="1 0 0 1" group="2"/>' + xml[end:])
    return xml
