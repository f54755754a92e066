"""Training data: labelled folders (images/ + labels/), the fixed held-out split, synthetic
images, and batches of augmented crops, each with one object chosen for the click task.

Reads files only in load_labelled_folder; everything else is pure given its numpy Generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .clicks import distance_transform
from .normalization import normalize_with_own_stats
from .png import read_png
from .samples import simplify_channels
from .synth import random_synthetic_image

HELD_OUT_FRACTION = 0.2
HELD_OUT_SALT = "tessera-held-out-v1:"
IMAGE_SUFFIXES = (".png",)


def held_out_score(image_id: str, salt: str = HELD_OUT_SALT) -> float:
    """A fixed number in [0, 1) per image id: sha256 of salt + id, first 8 hex digits / 2^32."""
    digest = hashlib.sha256((salt + image_id).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 2**32


def is_held_out(image_id: str) -> bool:
    """Images whose score is below HELD_OUT_FRACTION never take part in training."""
    return held_out_score(image_id) < HELD_OUT_FRACTION


@dataclass
class LabelledImage:
    """One image ready for training or evaluation."""

    image_id: str
    source: str
    image: np.ndarray  # (model channels, H, W) float32, normalised
    labels: np.ndarray  # (H, W) int32, 0 = background
    distance: np.ndarray  # (H, W) float32: distance to the object's edge / its maximum
    objects: np.ndarray  # (K, 4) float64 rows: label, centre row, centre column, area


def object_table(labels: np.ndarray) -> np.ndarray:
    """Label, centroid and area of each object present."""
    flat = labels.ravel().astype(np.int64)
    rows, cols = np.indices(labels.shape)
    area = np.bincount(flat)
    present = np.flatnonzero(area)
    present = present[present > 0]
    if present.size == 0:
        return np.zeros((0, 4))
    sum_rows = np.bincount(flat, weights=rows.ravel())
    sum_cols = np.bincount(flat, weights=cols.ravel())
    return np.stack(
        [present, sum_rows[present] / area[present], sum_cols[present] / area[present], area[present]],
        axis=1,
    ).astype(np.float64)


def object_boxes(labels: np.ndarray) -> dict[int, Tuple[slice, slice]]:
    """Bounding box of each object, as slices."""
    boxes: dict[int, Tuple[slice, slice]] = {}
    ys, xs = np.nonzero(labels)
    if ys.size == 0:
        return boxes
    values = labels[ys, xs].astype(np.int64)
    count = int(values.max()) + 1
    y_min = np.full(count, labels.shape[0]); y_max = np.full(count, -1)
    x_min = np.full(count, labels.shape[1]); x_max = np.full(count, -1)
    np.minimum.at(y_min, values, ys); np.maximum.at(y_max, values, ys)
    np.minimum.at(x_min, values, xs); np.maximum.at(x_max, values, xs)
    for label in np.flatnonzero(y_max >= 0):
        boxes[int(label)] = (slice(y_min[label], y_max[label] + 1), slice(x_min[label], x_max[label] + 1))
    return boxes


def normalized_distance(labels: np.ndarray) -> np.ndarray:
    """Per object, the distance to its edge divided by its largest such distance (1 at the
    centre, falling to ~0 at the edge, 0 on background): the target of the distance head."""
    out = np.zeros(labels.shape, dtype=np.float32)
    for label, (rows, cols) in object_boxes(labels).items():
        mask = labels[rows, cols] == label
        distance = distance_transform(mask)
        peak = float(distance.max())
        if peak > 0:
            out[rows, cols] = np.where(mask, distance / peak, out[rows, cols])
    return out


def prepare_image(
    image_id: str, source: str, raw: np.ndarray, labels: np.ndarray, model_channels: int,
    polarity: str = "bright",
) -> LabelledImage:
    """Raw (C, H, W) pixels and labels → normalised training item (stats of the whole image;
    inverted for a model of dark objects, normalization.normalize_image)."""
    if raw.shape[1:] != labels.shape:
        raise ValueError(f"{image_id}: label size {labels.shape} differs from image size {raw.shape[1:]}")
    labels = labels.astype(np.int32)
    return LabelledImage(
        image_id=image_id,
        source=source,
        image=normalize_with_own_stats(raw, model_channels, polarity),
        labels=labels,
        distance=normalized_distance(labels),
        objects=object_table(labels),
    )


def list_labelled_folder(folder: Path) -> List[Tuple[str, Path, Path]]:
    """(id, image path, label path) for every image with a label file of the same name."""
    images = folder / "images"
    labels = folder / "labels"
    if not images.is_dir() or not labels.is_dir():
        raise FileNotFoundError(f"{folder}: expected images/ and labels/ folders")
    entries = []
    for path in sorted(images.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        label_path = labels / path.name
        if not label_path.exists():
            raise FileNotFoundError(f"{path}: no label image {label_path}")
        entries.append((path.stem, path, label_path))
    return entries


def load_labelled_image(
    image_id: str, image_path: Path, label_path: Path, source: str, model_channels: int, polarity: str = "bright"
) -> LabelledImage:
    # 8- or 16-bit, grey or colour, exactly as stored; alpha and grey-as-RGB as the server treats them.
    raw = simplify_channels(read_png(image_path), has_alpha=True)
    label_pixels = read_png(label_path)
    if label_pixels.shape[2] != 1:
        raise ValueError(f"{label_path}: label images must have one channel")
    if label_pixels.shape[:2] != raw.shape[:2]:
        raise ValueError(f"{label_path}: size {label_pixels.shape[:2]} differs from its image {raw.shape[:2]}")
    return prepare_image(image_id, source, np.moveaxis(raw, 2, 0), label_pixels[..., 0], model_channels, polarity)


def load_labelled_folder(
    folder: Path, model_channels: int, held_out: Optional[bool], polarity: str = "bright"
) -> List[LabelledImage]:
    """The training part (held_out False), the held-out part (True) or all (None) of a folder."""
    return [
        load_labelled_image(image_id, image_path, label_path, folder.name, model_channels, polarity)
        for image_id, image_path, label_path in list_labelled_folder(folder)
        if held_out is None or is_held_out(image_id) == held_out
    ]


def object_contrast(item: LabelledImage) -> Optional[float]:
    """Mean model input inside the labelled objects minus the mean outside them, on the first
    model channel (always an image channel); None without objects or without background."""
    inside = item.labels > 0
    if not inside.any() or inside.all():
        return None
    plane = item.image[0]
    return float(plane[inside].mean() - plane[~inside].mean())


def median_object_contrast(items: Sequence[LabelledImage]) -> Optional[float]:
    """The median of object_contrast over the images that have one; None if none has."""
    contrasts = [c for c in (object_contrast(item) for item in items) if c is not None]
    return float(np.median(contrasts)) if contrasts else None


def polarity_for(median_contrast: Optional[float], prepared_with: str) -> str:
    """The polarity under which labelled images show their objects brighter than their background
    (what the network was pretrained on), given their median_object_contrast as prepared with
    prepared_with: that one when the contrast is positive (or unknown), else the other."""
    if median_contrast is None or median_contrast >= 0:
        return prepared_with
    return "dark" if prepared_with == "bright" else "bright"


def synthetic_item(rng: np.random.Generator, size: int, model_channels: int, index: int) -> LabelledImage:
    sample = random_synthetic_image(rng, size, size)
    return prepare_image(f"synthetic-{index}", "synthetic", sample.image, sample.labels, model_channels)


@dataclass
class Batch:
    image: torch.Tensor  # (N, C, S, S)
    foreground: torch.Tensor  # (N, 1, S, S) 0/1
    distance: torch.Tensor  # (N, 1, S, S)
    target: np.ndarray  # (N, S, S) bool: the object of the click task


def _crop(array: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """A size x size window of the last two axes, zero where it leaves the array."""
    out = np.zeros(array.shape[:-2] + (size, size), dtype=array.dtype)
    height, width = array.shape[-2:]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, height), min(left + size, width)
    if y1 > y0 and x1 > x0:
        out[..., y0 - top : y1 - top, x0 - left : x1 - left] = array[..., y0:y1, x0:x1]
    return out


def _augment_intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma, contrast and offset per present channel, sometimes noise; stays in [0, 1]."""
    out = np.empty_like(image)
    for channel in range(image.shape[0]):
        plane = image[channel]
        if not plane.any():
            out[channel] = plane  # an absent channel stays all zero, as at inference
            continue
        gamma = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
        plane = plane ** gamma * rng.uniform(0.8, 1.2) + rng.uniform(-0.05, 0.05)
        if rng.random() < 0.3:
            plane = plane + rng.normal(0, rng.uniform(0, 0.04), plane.shape)
        out[channel] = np.clip(plane, 0, 1)
    return out


def sample_crop(
    item: LabelledImage, rng: np.random.Generator, size: int, scale_range: Tuple[float, float]
) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """An augmented crop around a random object: image, labels, distance, target mask."""
    candidates = item.objects[item.objects[:, 3] >= 8]
    if len(candidates) == 0:
        return None
    label, centre_y, centre_x, _ = candidates[rng.integers(len(candidates))]
    scale = float(np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]))))
    source_size = max(8, int(round(size / scale)))
    top = int(round(centre_y - source_size / 2 + rng.uniform(-0.25, 0.25) * source_size))
    left = int(round(centre_x - source_size / 2 + rng.uniform(-0.25, 0.25) * source_size))
    image = _crop(item.image, top, left, source_size)
    labels = _crop(item.labels, top, left, source_size)
    distance = _crop(item.distance, top, left, source_size)
    if source_size != size:
        dense = torch.from_numpy(np.concatenate([image, distance[None]], axis=0)[None])
        dense = F.interpolate(dense, size=(size, size), mode="bilinear", align_corners=False)[0].numpy()
        image, distance = dense[:-1], dense[-1]
        labels = F.interpolate(
            torch.from_numpy(labels.astype(np.float32))[None, None], size=(size, size), mode="nearest"
        )[0, 0].numpy().astype(np.int32)
    turns = int(rng.integers(4))
    flip = bool(rng.random() < 0.5)
    arrays = []
    for array in (image, labels, distance):
        array = np.rot90(array, turns, axes=(-2, -1))
        arrays.append(np.ascontiguousarray(array[..., ::-1] if flip else array))
    image, labels, distance = arrays
    image = _augment_intensity(image, rng)
    if image.shape[0] > 1 and rng.random() < 0.2:
        image[1:] = 0  # a second channel is not always there
    target = labels == int(label)
    if target.sum() < 4:
        return None
    return image.astype(np.float32), labels, distance.astype(np.float32), target


def batch_from_crops(crops: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> Batch:
    """Stacks sample_crop results (image, labels, distance, target) into a batch."""
    image = torch.from_numpy(np.stack([c[0] for c in crops]))
    foreground = torch.from_numpy(np.stack([(c[1] > 0).astype(np.float32) for c in crops]))[:, None]
    distance = torch.from_numpy(np.stack([c[2] for c in crops]))[:, None]
    target = np.stack([c[3] for c in crops])
    return Batch(image=image, foreground=foreground, distance=distance, target=target)


class TrainingSampler:
    """Draws batches from real items and a pool of synthetic images that is refreshed as it goes."""

    def __init__(
        self,
        real: Sequence[LabelledImage],
        rng: np.random.Generator,
        model_channels: int,
        crop_size: int,
        real_fraction: float = 0.6,
        synthetic_pool: int = 400,
        synthetic_size: Tuple[int, int] = (160, 256),
        scale_range: Tuple[float, float] = (0.6, 1.8),
    ):
        self.real = list(real)
        self.rng = rng
        self.model_channels = model_channels
        self.crop_size = crop_size
        self.real_fraction = real_fraction if self.real else 0.0
        self.pool_limit = synthetic_pool
        self.synthetic_size = synthetic_size
        self.scale_range = scale_range
        # Real images are drawn in proportion to the square root of their object count: crowded
        # images hold most objects (and most evaluation clicks) without taking over training.
        weights = np.array([np.sqrt(max(1, len(item.objects))) for item in self.real], dtype=np.float64)
        self.real_weights = weights / weights.sum() if len(weights) else weights
        self.pool: List[LabelledImage] = []
        self.generated = 0
        for _ in range(min(synthetic_pool, 16)):
            self._grow_pool()

    def _grow_pool(self) -> None:
        size = 16 * int(self.rng.integers(self.synthetic_size[0] // 16, self.synthetic_size[1] // 16 + 1))
        item = synthetic_item(self.rng, size, self.model_channels, self.generated)
        self.generated += 1
        if len(self.pool) < self.pool_limit:
            self.pool.append(item)
        else:
            self.pool[int(self.rng.integers(len(self.pool)))] = item

    def next_batch(self, batch_size: int) -> Batch:
        # One fresh synthetic image per batch keeps the pool varied at a small cost.
        self._grow_pool()
        crops = []
        while len(crops) < batch_size:
            if self.rng.random() < self.real_fraction:
                item = self.real[int(self.rng.choice(len(self.real), p=self.real_weights))]
            else:
                item = self.pool[int(self.rng.integers(len(self.pool)))]
            crop = sample_crop(item, self.rng, self.crop_size, self.scale_range)
            if crop is not None:
                crops.append(crop)
        return batch_from_crops(crops)
