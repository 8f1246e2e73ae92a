"""Semiconductor-like layouts for the SEM simulator, as signed distance fields.

A layout is the geometry of a field of view: where there is material (balls, vias,
lines, particles) and where there is substrate. It is described by a *signed distance
field* (SDF) on the HR pixel grid: the distance in HR pixels to the nearest material
edge, negative inside material. The image formation (:mod:`sem_imaging`) turns the SDF
into an SEM image (bright rims at edges, shading, noise), so geometry and imaging stay
independent and every shape is anti-aliased at any resolution.

Layouts (all randomised per scene: pitch, size, a slight rotation, per-feature jitter):

``hexmesh``    hexagonal "ball mesh" / contact-hole array, as [S0] dataset-2
``vias``       square (or slightly rectangular) via array
``lines``      line/space grating
``particles``  particles scattered on a flat substrate
``mixed``      the field split into 2-3 blocks, each with a different layout

Each layout also knows which defects it can show (:mod:`sem_defects`) and how a defect
changes its geometry; "particle" defects apply to every layout.
"""

from __future__ import annotations

import numpy as np

from semsr_core.data.sem_defects import Defect, bbox_around
from semsr_core.errors import ConfigError

#: A distance standing for "no material anywhere near".
FAR = 1.0e4


# ------------------------------------------------------------------ SDF primitives


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Union of two shapes with a fillet of size ``k`` where they meet (polynomial smin)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smooth_max(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Intersection of two shapes with rounded corners of size ``k``."""
    return -smooth_min(-a, -b, k)


def disc(yy, xx, cy: float, cx: float, r: float) -> np.ndarray:
    return np.hypot(yy - cy, xx - cx) - r


def capsule(yy, xx, p0, p1, r: float) -> np.ndarray:
    """A bar of radius ``r`` around the segment p0–p1 (points as (y, x))."""
    by, bx = p1[0] - p0[0], p1[1] - p0[1]
    py, px = yy - p0[0], xx - p0[1]
    t = np.clip((py * by + px * bx) / max(by * by + bx * bx, 1e-9), 0.0, 1.0)
    return np.hypot(py - t * by, px - t * bx) - r


def box(pu, pv, hu: float, hv: float) -> np.ndarray:
    """A rectangle of half sizes ``hu``×``hv`` centred at the origin of local coords."""
    qu, qv = np.abs(pu) - hu, np.abs(pv) - hv
    outside = np.hypot(np.maximum(qu, 0.0), np.maximum(qv, 0.0))
    return outside + np.minimum(np.maximum(qu, qv), 0.0)


def convex_polygon(yy, xx, points: np.ndarray) -> np.ndarray:
    """A convex polygon (vertices as (y, x)); exact inside, mitred outside."""
    centre = points.mean(axis=0)
    out = np.full(np.shape(yy), -FAR, dtype=np.float32)
    for p, q in zip(points, np.roll(points, -1, axis=0), strict=True):
        normal = np.array([q[1] - p[1], -(q[0] - p[0])], dtype=np.float64)
        normal /= np.linalg.norm(normal)
        if np.dot(centre - p, normal) > 0:
            normal = -normal
        np.maximum(out, (yy - p[0]) * normal[0] + (xx - p[1]) * normal[1], out=out)
    return out


def blob(yy, xx, cy: float, cx: float, r0: float, amps, phases) -> np.ndarray:
    """An irregular blob: a circle whose radius varies with angle by a few harmonics."""
    dy, dx = yy - cy, xx - cx
    theta = np.arctan2(dy, dx)
    r = np.full(np.shape(yy), r0, dtype=np.float32)
    for order, (a, ph) in enumerate(zip(amps, phases, strict=True), start=2):
        r += r0 * a * np.cos(order * theta + ph)
    return np.hypot(dy, dx) - r


def grid(shape: tuple[int, int], y0: int = 0, x0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (yy, xx) of a ``shape`` window whose corner is (y0, x0)."""
    yy, xx = np.mgrid[y0:y0 + shape[0], x0:x0 + shape[1]].astype(np.float32)
    return yy, xx


def _extent(yy: np.ndarray, xx: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) of a window made by :func:`grid`."""
    return int(yy[0, 0]), int(xx[0, 0]), int(yy[-1, -1]) + 1, int(xx[-1, -1]) + 1


# ------------------------------------------------------------------ particles


def random_particle(centre: tuple[float, float], r0: float, rng: np.random.Generator,
                    roughness: float = 0.15) -> dict:
    """Shape parameters of one irregular particle (see :func:`blob`)."""
    return {"cy": float(centre[0]), "cx": float(centre[1]), "r0": float(r0),
            "amps": [float(a) for a in rng.uniform(0.0, roughness, 3)],
            "phases": [float(p) for p in rng.uniform(0.0, 2 * np.pi, 3)]}


def particle_reach(p: dict) -> float:
    """Largest distance from a particle's centre to its edge."""
    return p["r0"] * (1.0 + sum(p["amps"]))


def particle_sdf(p: dict, yy, xx) -> np.ndarray:
    return blob(yy, xx, p["cy"], p["cx"], p["r0"], p["amps"], p["phases"])


def propose_particle_defect(shape: tuple[int, int], rng: np.random.Generator) -> Defect:
    """A stray particle anywhere in the field (the defect every layout can show)."""
    centre = (rng.uniform(0, shape[0]), rng.uniform(0, shape[1]))
    params = random_particle(centre, rng.uniform(3.0, 10.0), rng, roughness=0.25)
    return Defect("particle", centre, bbox_around(np.array([centre]),
                                                  particle_reach(params) + 3), params)


def apply_particle_defect(defect: Defect, sdf: np.ndarray, yy, xx) -> np.ndarray:
    return smooth_min(sdf, particle_sdf(defect.params, yy, xx), 1.5)


# ------------------------------------------------------------------ layouts


class Layout:
    """Geometry of one field of view; subclasses set ``name`` and ``defect_kinds``."""

    name = "layout"
    defect_kinds: tuple[str, ...] = ()
    shape: tuple[int, int] = (0, 0)

    def base_sdf(self, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        """Defect-free SDF on the grid (yy, xx) made by :func:`grid`."""
        raise NotImplementedError

    def propose_defect(self, kind: str, rng: np.random.Generator) -> Defect | None:
        """A random defect of ``kind`` in this layout (None where it cannot go).

        Stray particles can go on every layout; subclasses add their own kinds.
        """
        if kind == "particle":
            return propose_particle_defect(self.shape, rng)
        return None

    def apply_defect(self, defect: Defect, sdf: np.ndarray, yy, xx) -> np.ndarray:
        """The SDF of the window (yy, xx) with ``defect`` added."""
        raise NotImplementedError(f"{self.name} has no defect {defect.kind}")


class LatticeLayout(Layout):
    """Round contacts on a lattice: hexagonal ball mesh or square via array."""

    defect_kinds = ("bridge", "missing", "merged")

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator, *, hexagonal: bool):
        self.shape = shape
        self.hexagonal = hexagonal
        self.name = "hexmesh" if hexagonal else "vias"
        if hexagonal:
            pitch = rng.uniform(22.0, 40.0)
            self.radius = pitch * rng.uniform(0.33, 0.44)
            angle = np.deg2rad(rng.choice([0.0, 30.0]) + rng.uniform(-4.0, 4.0))
            a1 = pitch * np.array([np.sin(angle), np.cos(angle)])  # (y, x)
            a2 = pitch * np.array([np.sin(angle + np.pi / 3), np.cos(angle + np.pi / 3)])
            self.neighbours = ((1, 0), (0, 1), (1, -1))
            # the rounded site and its six neighbours hold every edge near a pixel
            self.candidates = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))
        else:
            pitch = rng.uniform(18.0, 36.0)
            self.radius = pitch * rng.uniform(0.2, 0.3)
            angle = np.deg2rad(rng.uniform(-3.0, 3.0))
            a1 = pitch * np.array([np.sin(angle), np.cos(angle)])
            a2 = pitch * rng.uniform(0.9, 1.25) * np.array([np.cos(angle), -np.sin(angle)])
            self.neighbours = ((1, 0), (0, 1))
            self.candidates = tuple((di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1))
        self.pitch = float(pitch)
        self.basis = np.stack([a1, a2], axis=1)  # columns: a1, a2 as (y, x)
        self.inverse = np.linalg.inv(self.basis)
        self.origin = rng.uniform(0.0, pitch, size=2)
        corners = np.array([[y, x] for y in (-2 * pitch, shape[0] + 2 * pitch)
                            for x in (-2 * pitch, shape[1] + 2 * pitch)])
        frac = (corners - self.origin) @ self.inverse.T
        self.lo = np.floor(frac.min(axis=0)).astype(int) - 1
        hi = np.ceil(frac.max(axis=0)).astype(int) + 1
        self.n = hi - self.lo + 1
        ii, jj = np.meshgrid(np.arange(self.n[0]) + self.lo[0], np.arange(self.n[1]) + self.lo[1],
                             indexing="ij")
        centres = self.origin + np.stack([ii, jj], axis=-1) @ self.basis.T
        centres += rng.normal(0.0, 0.25, size=centres.shape)
        self.cy = centres[..., 0].astype(np.float32).ravel()
        self.cx = centres[..., 1].astype(np.float32).ravel()
        self.rad = (self.radius * (1.0 + rng.normal(0.0, 0.03, size=self.cy.shape))).astype(
            np.float32)
        inside = ((self.cy >= 0) & (self.cy < shape[0]) & (self.cx >= 0) & (self.cx < shape[1]))
        self.inside = np.flatnonzero(inside)

    def _site(self, i: int, j: int) -> int | None:
        if 0 <= i < self.n[0] and 0 <= j < self.n[1]:
            return int(i * self.n[1] + j)
        return None

    def _centre(self, k: int) -> np.ndarray:
        return np.array([self.cy[k], self.cx[k]], dtype=np.float64)

    def base_sdf(self, yy, xx, exclude: tuple[int, ...] = ()) -> np.ndarray:
        rad = self.rad
        if exclude:
            rad = rad.copy()
            rad[list(exclude)] = -FAR
        fy, fx = yy - self.origin[0], xx - self.origin[1]
        fi = np.rint(self.inverse[0, 0] * fy + self.inverse[0, 1] * fx).astype(np.int64)
        fj = np.rint(self.inverse[1, 0] * fy + self.inverse[1, 1] * fx).astype(np.int64)
        fi -= self.lo[0]
        fj -= self.lo[1]
        best = np.full(np.shape(yy), FAR, dtype=np.float32)
        for di, dj in self.candidates:
            k = (np.clip(fi + di, 0, self.n[0] - 1) * self.n[1]
                 + np.clip(fj + dj, 0, self.n[1] - 1))
            np.minimum(best, np.hypot(yy - self.cy[k], xx - self.cx[k]) - rad[k], out=best)
        return best

    def propose_defect(self, kind: str, rng: np.random.Generator) -> Defect | None:
        if kind not in self.defect_kinds or len(self.inside) == 0:
            return super().propose_defect(kind, rng)
        k = int(self.inside[rng.integers(len(self.inside))])
        i, j = divmod(k, int(self.n[1]))
        r = self.radius
        if kind == "missing":
            c = self._centre(k)
            return Defect("missing", tuple(c), bbox_around(c[None], r * 1.2 + 3), {"site": k})
        if kind == "bridge":
            di, dj = self.neighbours[int(rng.integers(len(self.neighbours)))]
            other = self._site(i + di, j + dj)
            if other is None:
                return None
            pts = np.stack([self._centre(k), self._centre(other)])
            width = r * rng.uniform(0.25, 0.45)
            return Defect("bridge", tuple(pts.mean(axis=0)), bbox_around(pts, r * 1.2 + 4),
                          {"p0": pts[0].tolist(), "p1": pts[1].tolist(), "radius": width})
        # merged: three mutually neighbouring contacts dissolve into one ("tripetal")
        sites = [k, self._site(i + 1, j), self._site(i, j + 1)]
        if None in sites:
            return None
        pts = np.stack([self._centre(s) for s in sites])
        return Defect("merged", tuple(pts.mean(axis=0)), bbox_around(pts, r * 1.2 + 6),
                      {"sites": sites, "points": pts.tolist(),
                       "fillet": float(r * rng.uniform(0.25, 0.5))})

    def apply_defect(self, defect: Defect, sdf, yy, xx) -> np.ndarray:
        p = defect.params
        if defect.kind == "missing":
            return self.base_sdf(yy, xx, exclude=(p["site"],))
        if defect.kind == "bridge":
            return smooth_min(sdf, capsule(yy, xx, p["p0"], p["p1"], p["radius"]), 2.0)
        if defect.kind == "merged":
            pts = np.asarray(p["points"])
            lobes = np.minimum.reduce([disc(yy, xx, y, x, self.rad[s])
                                       for (y, x), s in zip(pts, p["sites"], strict=True)])
            core = convex_polygon(yy, xx, pts)
            return np.minimum(sdf, smooth_min(lobes, core, p["fillet"]))
        return super().apply_defect(defect, sdf, yy, xx)


class LinesLayout(Layout):
    """A line/space grating, horizontal or vertical, slightly rotated."""

    name = "lines"
    defect_kinds = ("bridge", "break")

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator):
        self.shape = shape
        self.pitch = float(rng.uniform(16.0, 40.0))
        self.half_width = self.pitch * rng.uniform(0.35, 0.6) / 2
        angle = np.deg2rad(rng.choice([0.0, 90.0]) + rng.uniform(-3.0, 3.0))
        self.cos, self.sin = float(np.cos(angle)), float(np.sin(angle))
        self.u0 = float(rng.uniform(0.0, self.pitch))
        diag = float(np.hypot(*shape))
        self.k_lo = int(np.floor((-diag - self.u0) / self.pitch)) - 2
        count = int(np.ceil(2 * diag / self.pitch)) + 5
        self.widths = (self.half_width * (1.0 + rng.normal(0.0, 0.04, count))).astype(
            np.float32)

    def _uv(self, yy, xx):
        """Coordinates across (u) and along (v) the lines."""
        return xx * self.cos + yy * self.sin, -xx * self.sin + yy * self.cos

    def _line_u(self, k: int) -> float:
        return self.u0 + k * self.pitch

    def base_sdf(self, yy, xx) -> np.ndarray:
        u, _ = self._uv(yy, xx)
        k0 = np.rint((u - self.u0) / self.pitch).astype(np.int64)
        best = np.full(np.shape(yy), FAR, dtype=np.float32)
        for dk in (-1, 0, 1):
            k = k0 + dk
            w = self.widths[np.clip(k - self.k_lo, 0, len(self.widths) - 1)]
            np.minimum(best, np.abs(u - self.u0 - k * self.pitch) - w, out=best)
        return best

    def propose_defect(self, kind: str, rng: np.random.Generator) -> Defect | None:
        if kind not in self.defect_kinds:
            return super().propose_defect(kind, rng)
        y, x = rng.uniform(0, self.shape[0]), rng.uniform(0, self.shape[1])
        u, v = self._uv(y, x)
        k = int(np.rint((u - self.u0) / self.pitch))
        if kind == "break":
            uc = self._line_u(k)
            length = self.pitch * rng.uniform(0.25, 0.6)
            reach = max(self.pitch / 2, length / 2) + 3
        else:
            uc = self._line_u(k) + self.pitch / 2
            length = 2 * self.half_width * rng.uniform(0.35, 0.9)
            reach = self.pitch + 3
        centre = (uc * self.sin + v * self.cos, uc * self.cos - v * self.sin)
        return Defect(kind, centre, bbox_around(np.array([centre]), reach),
                      {"line": k, "u": uc, "v": float(v), "length": float(length)})

    def apply_defect(self, defect: Defect, sdf, yy, xx) -> np.ndarray:
        p = defect.params
        u, v = self._uv(yy, xx)
        if defect.kind == "break":
            gap = box(u - p["u"], v - p["v"], self.pitch / 2, p["length"] / 2)
            return smooth_max(sdf, -gap, 1.5)
        if defect.kind == "bridge":
            bar = box(u - p["u"], v - p["v"], self.pitch / 2, p["length"] / 2)
            return smooth_min(sdf, bar, 1.5)
        return super().apply_defect(defect, sdf, yy, xx)


class ParticlesLayout(Layout):
    """Irregular particles scattered on a flat substrate."""

    name = "particles"

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator):
        self.shape = shape
        median = rng.uniform(4.0, 12.0)
        coverage = rng.uniform(0.08, 0.25)
        count = int(min(coverage * shape[0] * shape[1] / (np.pi * median ** 2), 4000))
        radii = median * np.exp(rng.normal(0.0, 0.35, count))
        ys, xs = rng.uniform(0, shape[0], count), rng.uniform(0, shape[1], count)
        self.particles = [random_particle((y, x), r, rng)
                          for y, x, r in zip(ys, xs, radii, strict=True)]

    def base_sdf(self, yy, xx) -> np.ndarray:
        y0, x0, y1, x1 = _extent(yy, xx)
        out = np.full(np.shape(yy), FAR, dtype=np.float32)
        for p in self.particles:
            reach = particle_reach(p) + 12
            wy0, wx0 = max(int(p["cy"] - reach), y0), max(int(p["cx"] - reach), x0)
            wy1, wx1 = min(int(p["cy"] + reach) + 1, y1), min(int(p["cx"] + reach) + 1, x1)
            if wy0 >= wy1 or wx0 >= wx1:
                continue
            win = slice(wy0 - y0, wy1 - y0), slice(wx0 - x0, wx1 - x0)
            np.minimum(out[win], particle_sdf(p, yy[win], xx[win]), out=out[win])
        return out


class MixedLayout(Layout):
    """The field split into blocks separated by empty streets, each its own layout."""

    name = "mixed"

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator):
        self.shape = shape
        names = [str(n) for n in rng.permutation(["hexmesh", "lines", "vias", "particles"])]
        street = rng.uniform(6.0, 14.0)
        h, w = shape
        vertical = bool(rng.integers(2))
        cut = rng.uniform(0.35, 0.65)
        # regions as (y0, x0, y1, x1)
        if vertical:
            regions = [(0, 0, h, w * cut), (0, w * cut, h, w)]
        else:
            regions = [(0, 0, h * cut, w), (h * cut, 0, h, w)]
        if rng.random() < 0.5:  # split the second block again, across the first cut
            y0, x0, y1, x1 = regions.pop()
            cut2 = rng.uniform(0.35, 0.65)
            if vertical:
                ym = y0 + (y1 - y0) * cut2
                regions += [(y0, x0, ym, x1), (ym, x0, y1, x1)]
            else:
                xm = x0 + (x1 - x0) * cut2
                regions += [(y0, x0, y1, xm), (y0, xm, y1, x1)]
        self.regions = [(y0 + street / 2, x0 + street / 2, y1 - street / 2, x1 - street / 2)
                        for y0, x0, y1, x1 in regions]
        self.parts = [make_layout(names[i], shape, rng) for i in range(len(regions))]
        self.defect_kinds = tuple(sorted({k for part in self.parts for k in part.defect_kinds}))

    def _region_sdf(self, i: int, yy, xx) -> np.ndarray:
        y0, x0, y1, x1 = self.regions[i]
        return box(yy - (y0 + y1) / 2, xx - (x0 + x1) / 2, (y1 - y0) / 2, (x1 - x0) / 2)

    def _combine(self, yy, xx, defect: Defect | None) -> np.ndarray:
        out = np.full(np.shape(yy), FAR, dtype=np.float32)
        for i, part in enumerate(self.parts):
            d = part.base_sdf(yy, xx)
            if defect is not None and defect.params["part"] == i:
                d = part.apply_defect(defect, d, yy, xx)
            np.minimum(out, smooth_max(d, self._region_sdf(i, yy, xx), 1.0), out=out)
        return out

    def base_sdf(self, yy, xx) -> np.ndarray:
        return self._combine(yy, xx, None)

    def propose_defect(self, kind: str, rng: np.random.Generator) -> Defect | None:
        able = [i for i, part in enumerate(self.parts) if kind in part.defect_kinds]
        if not able:
            return super().propose_defect(kind, rng)
        i = able[int(rng.integers(len(able)))]
        defect = self.parts[i].propose_defect(kind, rng)
        if defect is None:
            return None
        y0, x0, y1, x1 = self.regions[i]
        by0, bx0, by1, bx1 = defect.bbox
        if by0 < y0 or bx0 < x0 or by1 > y1 or bx1 > x1:
            return None
        return Defect(defect.kind, defect.centre, defect.bbox, {**defect.params, "part": i})

    def apply_defect(self, defect: Defect, sdf, yy, xx) -> np.ndarray:
        return self._combine(yy, xx, defect)


#: Layout names accepted by the simulator and ``semsr simulate --layout``.
LAYOUTS: tuple[str, ...] = ("hexmesh", "lines", "vias", "particles", "mixed")


def make_layout(name: str, shape: tuple[int, int], rng: np.random.Generator) -> Layout:
    """A random layout of kind ``name`` for a field of ``shape`` HR pixels."""
    if name == "hexmesh":
        return LatticeLayout(shape, rng, hexagonal=True)
    if name == "vias":
        return LatticeLayout(shape, rng, hexagonal=False)
    if name == "lines":
        return LinesLayout(shape, rng)
    if name == "particles":
        return ParticlesLayout(shape, rng)
    if name == "mixed":
        return MixedLayout(shape, rng)
    raise ConfigError(f"unknown layout {name!r}", hint=f"Choose one of: {', '.join(LAYOUTS)}.")
