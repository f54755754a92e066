"""Synthetic fluorescence images with exact instance labels, for pretraining and tests.

Touching ellipses and irregular blobs of varied size and brightness, optical blur, uneven
background, shot and read noise, 8- or 16-bit, one or two channels. Deterministic for a given
numpy Generator; never touches the file system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from .clicks import distance_transform


@dataclass
class SyntheticImage:
    """Raw pixels (channels, height, width), uint8 or uint16, and labels (height, width) int32:
    0 is background, 1..N the objects, every value in 1..N present."""

    image: np.ndarray
    labels: np.ndarray


def gaussian_blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge padding (float64)."""
    if sigma <= 0:
        return plane.astype(np.float64)
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets**2) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    out = plane.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        size = out.shape[axis]
        acc = np.zeros_like(out)
        for weight, offset in zip(kernel, range(2 * radius + 1)):
            acc += weight * np.take(padded, np.arange(offset, offset + size), axis=axis)
        out = acc
    return out


def smooth_field(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth random field (zero mean, unit-ish amplitude): a coarse normal grid, bilinearly
    interpolated, so that features are about `cell` pixels wide."""
    grid_h = int(np.ceil(height / cell)) + 2
    grid_w = int(np.ceil(width / cell)) + 2
    grid = rng.normal(size=(grid_h, grid_w))
    ys = (np.arange(height) + 0.5) / cell + 0.5
    xs = (np.arange(width) + 0.5) / cell + 0.5
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _object_centres(
    rng: np.random.Generator, count: int, height: int, width: int, radius: float
) -> np.ndarray:
    """Uniform centres, or clusters of neighbours about 1.7 radii apart so objects touch."""
    if rng.random() < 0.5:
        return np.stack([rng.uniform(0, height, count), rng.uniform(0, width, count)], axis=1)
    centres: List[Tuple[float, float]] = []
    while len(centres) < count:
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        centres.append((cy, cx))
        for _ in range(int(rng.integers(1, 8))):
            angle = rng.uniform(0, 2 * np.pi)
            step = radius * rng.uniform(1.4, 2.1)
            cy, cx = cy + step * np.sin(angle), cx + step * np.cos(angle)
            centres.append((cy, cx))
    return np.array(centres[:count])


def _shape(
    rng: np.random.Generator, radius: float, cy: float, cx: float, height: int, width: int
) -> Tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """One ellipse or irregular blob: its bounding box, mask and normalised radius (0 centre,
    1 edge) inside the box; None when it falls outside the image."""
    aspect = rng.uniform(1.0, 2.2)
    a = radius * np.sqrt(aspect)
    b = radius / np.sqrt(aspect)
    angle = rng.uniform(0, np.pi)
    reach = a * 1.5 + 1
    y0, y1 = max(0, int(cy - reach)), min(height, int(cy + reach) + 1)
    x0, x1 = max(0, int(cx - reach)), min(width, int(cx + reach) + 1)
    if y1 <= y0 or x1 <= x0:
        return None
    ys = np.arange(y0, y1)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1)[None, :] + 0.5 - cx
    u = xs * np.cos(angle) + ys * np.sin(angle)
    v = -xs * np.sin(angle) + ys * np.cos(angle)
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    edge = np.ones_like(rho)
    if rng.random() < 0.5:
        theta = np.arctan2(v, u)
        for harmonic in range(2, 6):
            amplitude = rng.uniform(0, 0.12) / (harmonic - 1) ** 0.5
            edge = edge + amplitude * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    mask = rho <= edge
    return slice(y0, y1), slice(x0, x1), mask, np.clip(rho / edge, 0, 1)


def _render_labels(
    rng: np.random.Generator, height: int, width: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Instance labels and each pixel's normalised radius within its object."""
    radius = float(np.exp(rng.uniform(np.log(3.5), np.log(28))))
    coverage = rng.uniform(0.08, 0.5)
    count = int(np.clip(coverage * height * width / (np.pi * radius * radius), 1, 400))
    centres = _object_centres(rng, count, height, width, radius)
    labels = np.zeros((height, width), dtype=np.int32)
    profile = np.zeros((height, width), dtype=np.float64)
    next_label = 1
    for cy, cx in centres:
        shape = _shape(rng, radius * float(np.exp(rng.normal(0, 0.25))), cy, cx, height, width)
        if shape is None:
            continue
        rows, cols, mask, rho = shape
        # Earlier objects keep their pixels: later ones touch them along a flattened contact.
        free = mask & (labels[rows, cols] == 0)
        area = int(free.sum())
        if area < 6 or area < 0.7 * mask.sum():
            continue
        labels[rows, cols][free] = next_label
        profile[rows, cols][free] = rho[free]
        next_label += 1
    return labels, profile


def _signal(rng: np.random.Generator, labels: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Noise-free emission of the objects (bright ~1), with varied brightness and texture."""
    count = int(labels.max())
    spread = rng.uniform(0.05, 0.6)
    brightness = np.concatenate([[0.0], np.exp(rng.normal(0, spread, count))])
    brightness /= max(1e-6, float(np.percentile(brightness[1:], 90))) if count else 1.0
    signal = brightness[labels]
    falloff = rng.uniform(-0.2, 0.6)
    signal = signal * (1 - falloff * profile**2)
    texture = rng.uniform(0, 0.35)
    if texture > 0:
        signal = signal * np.clip(1 + texture * smooth_field(rng, *labels.shape, 3.0), 0.2, None)
    return signal


def _second_channel(
    rng: np.random.Generator, labels: np.ndarray, profile: np.ndarray
) -> np.ndarray:
    """Another stain: cytoplasm around the objects, the same objects differently, or nothing."""
    kind = rng.integers(0, 3)
    if kind == 0:
        distance = distance_transform(labels == 0)
        ring = (distance > 0) & (distance <= rng.uniform(2, 10))
        return ring * rng.uniform(0.2, 0.8) * (1 + 0.3 * smooth_field(rng, *labels.shape, 6.0))
    if kind == 1:
        return _signal(rng, labels, profile) * rng.uniform(0.3, 1.0)
    return np.zeros(labels.shape, dtype=np.float64)


def _acquire(rng: np.random.Generator, signal: np.ndarray, bit_depth: int) -> np.ndarray:
    """Blur, uneven background, shot and read noise, then digitisation to 8 or 16 bits."""
    height, width = signal.shape
    optical = gaussian_blur(signal, rng.uniform(0.4, 2.0))
    level = rng.uniform(0.0, 0.3)
    background = level * (
        1 + 0.5 * smooth_field(rng, height, width, rng.uniform(40, 160))
    ) + rng.uniform(0, 0.15) * np.clip(smooth_field(rng, height, width, rng.uniform(15, 40)), 0, None)
    expected = np.clip(optical + np.clip(background, 0, None), 0, None)
    photons_at_one = float(np.exp(rng.uniform(np.log(8), np.log(3000))))
    counts = rng.poisson(expected * photons_at_one).astype(np.float64)
    counts += rng.normal(0, rng.uniform(0, 3), counts.shape)
    top = 255 if bit_depth == 8 else 65535
    full_scale = rng.uniform(0.3, 1.0) * top if bit_depth == 8 else rng.uniform(0.01, 0.9) * top
    offset = rng.uniform(0, 0.08) * full_scale
    gain = (full_scale - offset) / (photons_at_one * 1.3)
    digital = np.round(offset + gain * counts)
    return np.clip(digital, 0, top).astype(np.uint8 if bit_depth == 8 else np.uint16)


def generate_image(
    rng: np.random.Generator, height: int, width: int, channels: int = 1, bit_depth: int = 8
) -> SyntheticImage:
    """One synthetic image; channel 0 always shows the labelled objects."""
    if channels not in (1, 2):
        raise ValueError("channels must be 1 or 2")
    if bit_depth not in (8, 16):
        raise ValueError("bit_depth must be 8 or 16")
    labels, profile = _render_labels(rng, height, width)
    planes = [_acquire(rng, _signal(rng, labels, profile), bit_depth)]
    if channels == 2:
        planes.append(_acquire(rng, _second_channel(rng, labels, profile), bit_depth))
    return SyntheticImage(image=np.stack(planes), labels=_relabel(labels))


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive labels 1..N (objects may have been skipped while placing)."""
    present = np.unique(labels)
    present = present[present > 0]
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    lookup[present] = np.arange(1, present.size + 1, dtype=np.int32)
    return lookup[labels]


def random_synthetic_image(rng: np.random.Generator, height: int, width: int) -> SyntheticImage:
    """A synthetic image with a random channel count (1 or 2) and bit depth (8 or 16)."""
    channels = 1 if rng.random() < 0.7 else 2
    bit_depth = 8 if rng.random() < 0.5 else 16
    return generate_image(rng, height, width, channels, bit_depth)
