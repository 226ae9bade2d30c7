"""Rendering the Bodies humanoid with MuJoCo: smooth joint-space motion within the joint
limits, a free camera with mild motion, exact 2-D joint labels and their visibility.

MuJoCo (PyPI ``mujoco``, the optional extra ``bodies``) renders offscreen on the CPU through
Mesa: ``MUJOCO_GL=egl`` (Debian ``libegl1`` + ``libegl-mesa0``, the default here) or
``MUJOCO_GL=osmesa`` (Debian ``libosmesa6``). :func:`load_mujoco` imports it lazily (it is an
optional heavy dependency) and turns a missing package or GL library into a
:class:`BodiesRenderError` that names what to install.

Labels: each joint site's world position is projected with the OpenGL camera MuJoCo renders
with (``MjvScene.camera[0]``: position, forward/up axes and frustum), and converted to the
library's pixel convention: ``x_px = (x_ndc + 1) W / 2 - 0.5``, ``y_px = (1 - y_ndc) H / 2 -
0.5`` (pixel ``i``'s centre at ``i``, y down; :mod:`landmarks.geometry.coords`). A joint is
*visible* when its pixel lies in the image and the depth buffer there is no nearer than the
joint's depth minus its limb's radius (:data:`~landmarks.data.bodies_scene.JOINT_TOLERANCE`):
an arm in front of the hip, or the torso in front of the far shoulder, hides the joint. The
body's pixels (:meth:`BodyRenderer.foreground`) come from a segmentation render: every geom but
the floor.
"""

from __future__ import annotations

import math
import os
from types import ModuleType
from typing import Any

import numpy as np

from landmarks.data.bodies_scene import (
    DOFS,
    JOINT_NAMES,
    JOINT_TOLERANCE,
    Actor,
    Scene,
    body_xml,
)
from landmarks.data.transforms import DatasetError

__all__ = [
    "BodiesRenderError",
    "BodyRenderer",
    "camera_path",
    "joint_trajectory",
    "load_mujoco",
    "render_clip",
]

#: The Debian packages each MUJOCO_GL backend needs.
GL_PACKAGES: dict[str, str] = {"egl": "libegl1 libegl-mesa0 libgl1-mesa-dri",
                               "osmesa": "libosmesa6"}
FPS = 25.0
#: Amplitude (m) of the root's slow drift on the floor. v2: 0.1 (v1: 0.25), so that the person,
#: framed closer (:data:`~landmarks.data.bodies_scene.CAMERA_DISTANCE`), stays in the image.
ROOT_DRIFT = 0.1


class BodiesRenderError(DatasetError):
    """MuJoCo or its offscreen GL backend is missing; the message names what to install."""


def load_mujoco() -> ModuleType:
    """Import MuJoCo with an offscreen backend (``MUJOCO_GL``, default ``egl``).

    Raises:
        BodiesRenderError: MuJoCo is not installed (``pip install '.[bodies]'``) or its GL
            backend cannot load (names the Debian packages of the backend).
    """
    backend = os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco  # optional heavy dependency (extra "bodies"), imported on first use
    except ModuleNotFoundError as err:
        if err.name != "mujoco":
            raise BodiesRenderError(f"MuJoCo cannot be imported ({err}); "
                                    f"{_gl_hint(backend)}") from err
        raise BodiesRenderError("MuJoCo is not installed: `pip install "
                                "'unsupervised-landmarks[bodies]'` (PyPI mujoco)") from err
    except Exception as err:  # its GL backend failed to load (PyOpenGL finds no library)
        raise BodiesRenderError(f"MuJoCo cannot load its GL backend ({type(err).__name__}: "
                                f"{err}); {_gl_hint(backend)}") from err
    return mujoco


def _gl_hint(backend: str) -> str:
    pkgs = GL_PACKAGES.get(backend)
    if pkgs is None:
        return (f"MUJOCO_GL={backend!r} is not an offscreen backend; use MUJOCO_GL=egl "
                f"(Debian {GL_PACKAGES['egl']}) or MUJOCO_GL=osmesa (Debian libosmesa6)")
    other = "osmesa" if backend == "egl" else "egl"
    make = "; `make bodies-gl` as root" if backend == "egl" else ""
    return (f"MUJOCO_GL={backend} needs the Debian package(s) {pkgs} "
            f"(`apt-get install {pkgs}`{make}), or set MUJOCO_GL={other} "
            f"with {GL_PACKAGES[other]}")


def joint_trajectory(motion: int, frames: int, fps: float = FPS) -> tuple[np.ndarray, np.ndarray]:
    """A smooth motion drawn from the seed ``motion``: every hinge follows
    ``mid + half * tanh(b + A * sum_k a_k sin(2 pi f_k t + phi_k))`` (3 frequencies in
    0.15-0.7 Hz), so it stays strictly inside its limits; the root turns (yaw) and drifts
    slowly.

    Returns:
        ``(T, D)`` hinge angles in radians (order of :data:`DOFS`) and ``(T, 3)`` root
        ``(x, y, yaw)`` in metres and radians.
    """
    rng = np.random.default_rng([13, motion])
    t = np.arange(frames, dtype=np.float64)[:, None] / fps
    lo = np.radians([d.lo for d in DOFS])
    hi = np.radians([d.hi for d in DOFS])
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    n = len(DOFS)
    freq = rng.uniform(0.15, 0.7, (3, n))
    phase = rng.uniform(0, 2 * math.pi, (3, n))
    amp = rng.dirichlet(np.ones(3), n).T  # (3, n), sums to 1 per hinge
    activity = rng.uniform(0.4, 1.6, n)
    bias = rng.uniform(-0.6, 0.6, n)
    wave = sum(amp[k] * np.sin(2 * math.pi * freq[k] * t + phase[k]) for k in range(3))
    q = mid + half * np.tanh(bias + activity * wave)
    rf = rng.uniform(0.05, 0.25, 3)
    rp = rng.uniform(0, 2 * math.pi, 3)
    root = np.stack([ROOT_DRIFT * np.sin(2 * math.pi * rf[0] * t[:, 0] + rp[0]),
                     ROOT_DRIFT * np.sin(2 * math.pi * rf[1] * t[:, 0] + rp[1]),
                     math.radians(rng.uniform(-15, 15))
                     + math.radians(25) * np.sin(2 * math.pi * rf[2] * t[:, 0] + rp[2])], axis=1)
    return q, root


def camera_path(scene: Scene, frames: int, fps: float = FPS) -> np.ndarray:
    """The mild camera motion of a clip: ``(T, 3)`` azimuth, elevation (deg) and distance (m),
    slow sinusoids around the scene's values."""
    t = np.arange(frames, dtype=np.float64) / fps
    w = 2 * math.pi * 0.12
    return np.stack([scene.azimuth + scene.camera_sway * np.sin(w * t + scene.camera_phase),
                     scene.elevation + 0.4 * scene.camera_sway * np.sin(0.7 * w * t),
                     scene.distance * (1 + 0.04 * np.sin(0.5 * w * t + scene.camera_phase))],
                    axis=1)


class BodyRenderer:
    """One actor in one scene, posed and rendered frame by frame.

    Args:
        actor: the actor's look.
        scene: the clip's surroundings.
        size: image side S in pixels (S × S).
        marker: optional joint name that gets a red marker sphere (tests).
        marker_radius: the marker's radius in metres.
    """

    def __init__(self, actor: Actor, scene: Scene, size: int, marker: str | None = None,
                 marker_radius: float = 0.05) -> None:
        self.mj = load_mujoco()
        mj = self.mj
        self.actor, self.size = actor, int(size)
        self.model = mj.MjModel.from_xml_string(body_xml(actor, scene, marker, marker_radius))
        self.data = mj.MjData(self.model)
        try:
            self.renderer = mj.Renderer(self.model, self.size, self.size)
        except Exception as err:  # the GL context cannot be created (missing EGL/OSMesa)
            backend = os.environ.get("MUJOCO_GL", "egl")
            raise BodiesRenderError(f"MuJoCo cannot open an offscreen GL context "
                                    f"({type(err).__name__}: {err}); {_gl_hint(backend)}"
                                    ) from err
        site = mj.mjtObj.mjOBJ_SITE
        self.sites = np.array([mj.mj_name2id(self.model, site, n) for n in JOINT_NAMES])
        joint = mj.mjtObj.mjOBJ_JOINT
        self.qadr = np.array([self.model.jnt_qposadr[mj.mj_name2id(self.model, joint, d.name)]
                              for d in DOFS])
        geom = mj.mjtObj.mjOBJ_GEOM
        self.feet = [mj.mj_name2id(self.model, geom, f"{s}_foot") for s in "rl"]
        self.marker = mj.mj_name2id(self.model, geom, "marker") if marker else -1
        self.floor = mj.mj_name2id(self.model, geom, "floor")
        self.tolerance = np.array([JOINT_TOLERANCE[n] * actor.girth for n in JOINT_NAMES])
        self.camera = mj.MjvCamera()
        self.camera.type = mj.mjtCamera.mjCAMERA_FREE

    def close(self) -> None:
        self.renderer.close()

    def pose(self, hinges: np.ndarray, root: np.ndarray) -> np.ndarray:
        """Set the hinge angles ``(D,)`` (rad) and root ``(x, y, yaw)``, standing the lowest
        foot on the floor. Returns the ``(J, 3)`` world positions of the joints."""
        mj, q = self.mj, self.data.qpos
        q[:] = 0
        q[0], q[1], q[2] = root[0], root[1], 1.0
        q[3:7] = [math.cos(root[2] / 2), 0, 0, math.sin(root[2] / 2)]
        q[self.qadr] = hinges
        mj.mj_kinematics(self.model, self.data)
        low = min(self._lowest(g) for g in self.feet)
        q[2] = 1.0 - low
        mj.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.sites].copy()

    def _lowest(self, geom: int) -> float:
        """The lowest z of a capsule geom."""
        centre = self.data.geom_xpos[geom]
        axis = self.data.geom_xmat[geom].reshape(3, 3)[:, 2]
        radius, half = self.model.geom_size[geom][:2]
        return float(centre[2] - abs(axis[2]) * half - radius)

    def look(self, azimuth: float, elevation: float, distance: float,
             lookat: np.ndarray) -> None:
        """Point the free camera at ``lookat`` ``(3,)`` from the given angles (deg) and
        distance (m)."""
        cam = self.camera
        cam.azimuth, cam.elevation, cam.distance = azimuth, elevation, distance
        cam.lookat[:] = lookat

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """``(S, S, 3)`` uint8 RGB and ``(S, S)`` float32 depth (m along the view axis) of the
        current pose from the current camera."""
        r = self.renderer
        r.update_scene(self.data, camera=self.camera)
        rgb = r.render()
        r.enable_depth_rendering()
        depth = r.render()
        r.disable_depth_rendering()
        return rgb, depth

    def segmentation(self, marker_only: bool = False) -> np.ndarray:
        """``(S, S)`` int32 geom id per pixel (-1: background) of the current pose; with
        ``marker_only`` only the marker sphere (geom group 2) is drawn."""
        r = self.renderer
        option = self.mj.MjvOption()
        if marker_only:
            option.geomgroup[:] = 0
            option.geomgroup[2] = 1
        r.update_scene(self.data, camera=self.camera, scene_option=option)
        r.enable_segmentation_rendering()
        seg = r.render()
        r.disable_segmentation_rendering()
        return np.where(seg[..., 1] == int(self.mj.mjtObj.mjOBJ_GEOM), seg[..., 0], -1)

    def foreground(self) -> np.ndarray:
        """``(S, S)`` bool: the pixels of the body (every geom but the floor; the sky is no
        geom) in the current pose, from the current camera."""
        seg = self.segmentation()
        return (seg >= 0) & (seg != self.floor)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``(J, 3)`` → ``(J, 2)`` pixel ``(x, y)`` (pixel centres at integers, y
        down) and ``(J,)`` depth along the view axis, with the camera of the last
        :meth:`render` (the OpenGL frustum MuJoCo rendered with: the average of the scene's
        two eye cameras, which sit ``ipd / 2`` either side)."""
        scene = self.renderer.scene  # mono rendering uses the average of the two eyes
        cam = self.mj.mjv_averageCamera(scene.camera[0], scene.camera[1])
        pos, fwd, up = (np.asarray(v, np.float64) for v in (cam.pos, cam.forward, cam.up))
        right = np.cross(fwd, up)
        rel = np.asarray(points, np.float64) - pos
        xe, ye, de = rel @ right, rel @ up, rel @ fwd
        near, top, bottom = cam.frustum_near, cam.frustum_top, cam.frustum_bottom
        half = (cam.frustum_width / 2 if cam.frustum_width > 0
                else 0.5 * (top - bottom))  # square images: aspect 1
        left, rgt = cam.frustum_center - half, cam.frustum_center + half
        x_ndc = (2 * near * xe / de - (rgt + left)) / (rgt - left)
        y_ndc = (2 * near * ye / de - (top + bottom)) / (top - bottom)
        s = self.size
        px = np.stack([(x_ndc + 1) * s / 2 - 0.5, (1 - y_ndc) * s / 2 - 0.5], axis=1)
        return px, de

    def visibility(self, pixels: np.ndarray, depth: np.ndarray,
                   depth_map: np.ndarray) -> np.ndarray:
        """``(J,)`` bool: in the image and not occluded (module docstring)."""
        s = self.size
        inside = ((pixels >= -0.5) & (pixels < s - 0.5)).all(axis=1)
        ij = np.clip(np.rint(pixels).astype(int), 0, s - 1)
        surface = depth_map[ij[:, 1], ij[:, 0]]
        return inside & (surface >= depth - self.tolerance)


def render_clip(actor: Actor, scene: Scene, motion: int, frames: int, size: int
                ) -> dict[str, Any]:
    """Render one clip: ``actor`` performing motion ``motion`` in ``scene``.

    Returns:
        ``{"frames": (T, S, S, 3) uint8, "joints": (T, J, 2) float32 pixels, "visible":
        (T, J) bool, "joints3d": (T, J, 3) float32 world metres, "depth": (T, J) float32,
        "foreground": (T, S, S) bool}`` (the body's pixels, :meth:`BodyRenderer.foreground`),
        joints in the order of :data:`JOINT_NAMES`.
    """
    hinges, root = joint_trajectory(motion, frames)
    cams = camera_path(scene, frames)
    body = BodyRenderer(actor, scene, size)
    out = {"frames": np.zeros((frames, size, size, 3), np.uint8),
           "joints": np.zeros((frames, len(JOINT_NAMES), 2), np.float32),
           "visible": np.zeros((frames, len(JOINT_NAMES)), bool),
           "joints3d": np.zeros((frames, len(JOINT_NAMES), 3), np.float32),
           "depth": np.zeros((frames, len(JOINT_NAMES)), np.float32),
           "foreground": np.zeros((frames, size, size), bool)}
    centre = np.array([root[:, 0].mean(), root[:, 1].mean(), 0.85 * actor.height])
    try:
        for t in range(frames):
            world = body.pose(hinges[t], root[t])
            body.look(*cams[t], centre)
            rgb, depth_map = body.render()
            px, de = body.project(world)
            out["frames"][t] = rgb
            out["joints"][t] = px
            out["visible"][t] = body.visibility(px, de, depth_map)
            out["joints3d"][t] = world
            out["depth"][t] = de
            out["foreground"][t] = body.foreground()
    finally:
        body.close()
    return out
