"""SEM image formation for the simulator: from a layout's geometry to a noise-free image.

A secondary-electron image is mostly topographic contrast. The model here, all in
[0, 1] intensity units, for a signed distance field ``d`` (HR pixels, negative inside
material):

1. material vs substrate: a dark substrate and a brighter material, anti-aliased over
   one pixel; stray particles (foreign material) brighter still;
2. edge brightening: the SE yield peaks at edges, so a bright rim decays with the
   distance to the edge (faster outside than inside);
3. detector shadowing: the rim is brighter on edges facing the detector and darker on
   the far side (gradient of ``d`` along a random direction);
4. a static fine grain of the surface and a slow shading across the field (charging,
   detector geometry);
5. the beam spot: a Gaussian blur.

Noise (shot noise at a dose, read noise, scan-line offsets, jitter and drift) belongs
to the scan, not the scene, and is added by :func:`semsr_core.data.degrade.observe`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Contrast:
    """How one scene looks in the SEM (intensities in [0, 1], lengths in HR pixels)."""

    substrate: float
    material: float
    edge_gain: float
    rim_inside: float
    rim_outside: float
    shadow: float
    shadow_angle: float
    grain: float
    shading: float
    beam_sigma: float
    edge_roughness: float
    particle_boost: float = 0.15

    @classmethod
    def random(cls, rng: np.random.Generator) -> Contrast:
        return cls(substrate=float(rng.uniform(0.06, 0.16)),
                   material=float(rng.uniform(0.25, 0.42)),
                   edge_gain=float(rng.uniform(0.3, 0.5)),
                   rim_inside=float(rng.uniform(1.5, 3.0)),
                   rim_outside=float(rng.uniform(0.7, 1.5)),
                   shadow=float(rng.uniform(0.1, 0.35)),
                   shadow_angle=float(rng.uniform(0, 2 * np.pi)),
                   grain=float(rng.uniform(0.01, 0.03)),
                   shading=float(rng.uniform(0.05, 0.2)),
                   beam_sigma=float(rng.uniform(0.6, 1.0)),
                   edge_roughness=float(rng.uniform(0.2, 0.6)),
                   particle_boost=float(rng.uniform(0.1, 0.2)))

    def reach(self) -> int:
        """How far (HR pixels) a change of geometry can change the image."""
        return int(np.ceil(5 * max(self.rim_inside, self.rim_outside)
                           + 4 * self.beam_sigma + 3))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SceneFields:
    """Defect-independent fields of one scene: edge roughness, surface grain, shading."""

    roughness: np.ndarray  # added to the SDF, HR pixels
    grain: np.ndarray  # added to the intensity
    shading: np.ndarray  # multiplies the intensity


def _smooth_noise(shape, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-correlated noise."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field / max(float(field.std()), 1e-6)


def _slow_field(shape, rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """A smooth random field varying over about a quarter of the image (unit std)."""
    from skimage.transform import resize

    coarse = rng.standard_normal((cells, cells))
    # cubic-spline upsampling is separable: two small interpolation matrices and a
    # product instead of interpolating every pixel of a large image
    rows = resize(np.eye(cells), (shape[0], cells), order=3, mode="reflect", clip=False,
                  anti_aliasing=False)
    cols = resize(np.eye(cells), (shape[1], cells), order=3, mode="reflect", clip=False,
                  anti_aliasing=False)
    field = rows @ coarse @ cols.T
    field = field - field.mean()
    return (field / max(float(field.std()), 1e-6)).astype(np.float32)


def scene_fields(shape: tuple[int, int], contrast: Contrast,
                 rng: np.random.Generator) -> SceneFields:
    roughness = contrast.edge_roughness * _smooth_noise(shape, 2.5, rng)
    grain = contrast.grain * _smooth_noise(shape, 0.7, rng)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx * np.cos(angle) + yy * np.sin(angle)) / max(shape)
    ramp -= ramp.mean()
    shading = 1.0 + contrast.shading * (ramp + 0.5 * _slow_field(shape, rng))
    return SceneFields(roughness.astype(np.float32), grain.astype(np.float32),
                       shading.astype(np.float32))


def render(sdf: np.ndarray, contrast: Contrast, fields: SceneFields,
           foreign: np.ndarray | None = None) -> np.ndarray:
    """Noise-free SEM image (float32 in [0, 1]) of the geometry ``sdf``.

    ``foreign`` is the SDF of foreign material (stray particles, already part of
    ``sdf``) that charges and looks brighter than the layout's own material, so that
    a particle lying on a line or a ball still stands out.
    """
    d = sdf + fields.roughness
    coverage = np.clip(0.5 - d, 0.0, 1.0)
    rim = np.where(d < 0, np.exp(np.clip(d, -60.0, 0.0) / contrast.rim_inside),
                   np.exp(-np.clip(d, 0.0, 60.0) / contrast.rim_outside))
    gy, gx = np.gradient(np.clip(d, -8.0, 8.0))
    facing = gx * np.cos(contrast.shadow_angle) + gy * np.sin(contrast.shadow_angle)
    rim *= 1.0 + contrast.shadow * np.clip(facing, -1.0, 1.0)
    img = contrast.substrate + (contrast.material - contrast.substrate) * coverage
    img += contrast.edge_gain * rim
    if foreign is not None:
        img += contrast.particle_boost * np.clip(0.5 - (foreign + fields.roughness), 0.0, 1.0)
    img = img * fields.shading + fields.grain
    img = ndimage.gaussian_filter(img.astype(np.float32), contrast.beam_sigma, truncate=4.0)
    return np.clip(img, 0.0, 1.0)


@dataclass(frozen=True)
class Style:
    """A different "look" of the LR scan: ``offset + gain * x ** gamma`` ([S0] dataset-2)."""

    gain: float = 1.0
    gamma: float = 1.0
    offset: float = 0.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> Style:
        gamma = float(np.exp(rng.choice([-1.0, 1.0]) * rng.uniform(0.25, 0.5)))
        return cls(gain=float(rng.uniform(0.7, 1.4)), gamma=gamma,
                   offset=float(rng.uniform(-0.05, 0.12)))

    def apply(self, img: np.ndarray) -> np.ndarray:
        if self.gain == 1.0 and self.gamma == 1.0 and self.offset == 0.0:
            return img
        out = self.offset + self.gain * np.power(np.clip(img, 0.0, 1.0), self.gamma)
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def as_dict(self) -> dict:
        return asdict(self)
