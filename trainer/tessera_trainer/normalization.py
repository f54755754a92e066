"""Per-channel percentile normalisation of raw pixels to [0, 1], defined once for the model.

Mirrors shared/ml/normalization.ts number for number (float64 arithmetic, one rounding to
float32); a shared fixture checks both. Never changes the stored pixels, only model inputs.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

PERCENTILES = ("0.1", "1", "50", "99", "99.9")
LOW_PERCENTILE = "1"
HIGH_PERCENTILE = "99.9"


def percentile_of_sorted(flat: np.ndarray, p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default; TypeScript does the same)."""
    if flat.size == 0:
        raise ValueError("percentile of an empty channel")
    position = p / 100.0 * (flat.size - 1)
    below = int(np.floor(position))
    above = min(below + 1, flat.size - 1)
    return float(flat[below] + (flat[above] - flat[below]) * (position - below))


def channel_stats(plane: np.ndarray) -> Dict[str, object]:
    """The statistics the server records for one channel (shared/schemas/images.ts ChannelStats).

    Of the finite values only: NaN and infinities in float images are left out, as the server
    leaves them out; a channel without a finite value gets zeros.
    """
    values = np.asarray(plane, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "percentiles": {key: 0.0 for key in PERCENTILES}}
    flat = np.sort(values)
    percentiles = {key: percentile_of_sorted(flat, float(key)) for key in PERCENTILES}
    return {
        "min": float(flat[0]),
        "max": float(flat[-1]),
        "mean": float(values.mean()),
        "percentiles": percentiles,
    }


def normalization_range(stats: Dict[str, object]) -> tuple[float, float]:
    """(low, high) of the scaling: p1 and p99.9, falling back to min and max for flat histograms."""
    percentiles = stats["percentiles"]
    assert isinstance(percentiles, dict)
    low = float(percentiles[LOW_PERCENTILE])
    high = float(percentiles[HIGH_PERCENTILE])
    if not high > low:
        # Sparse images (few bright pixels) can have p99.9 == p1; the maximum still separates them.
        high = float(stats["max"])  # type: ignore[arg-type]
    return low, high


POLARITIES = ("bright", "dark")


def normalize_channel(plane: np.ndarray, stats: Dict[str, object], polarity: str = "bright") -> np.ndarray:
    """clip((x - low) / (high - low), 0, 1) in float64, rounded once to float32; zeros if high <= low.

    NaN gives 0: a masked float pixel would otherwise spread through every convolution it reaches.
    Polarity 'dark' (the card's input.polarity) gives 1 - that, still in float64 before the one
    rounding, so dark objects come in bright; a flat channel stays zeros.
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, not {polarity!r}")
    low, high = normalization_range(stats)
    values = np.asarray(plane, dtype=np.float64)
    if not high > low:
        return np.zeros(values.shape, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        scaled = np.nan_to_num(np.clip((values - low) / (high - low), 0.0, 1.0), nan=0.0)
    return (1.0 - scaled if polarity == "dark" else scaled).astype(np.float32)


def select_channels(count: int, model_channels: int) -> List[int]:
    """Which image channels feed the model's input channels; -1 means an all-zero input channel."""
    return [c if c < count else -1 for c in range(model_channels)]


def normalize_image(
    image: np.ndarray, stats: Sequence[Dict[str, object]], model_channels: int, polarity: str = "bright"
) -> np.ndarray:
    """Image (C, H, W) raw → (model_channels, H, W) float32: first channels kept (inverted with
    polarity 'dark'), missing ones zero."""
    if image.ndim != 3:
        raise ValueError(f"expected (channels, height, width), got shape {image.shape}")
    out = np.zeros((model_channels,) + image.shape[1:], dtype=np.float32)
    for target, source in enumerate(select_channels(image.shape[0], model_channels)):
        if source >= 0:
            out[target] = normalize_channel(image[source], stats[source], polarity)
    return out


def normalize_with_own_stats(image: np.ndarray, model_channels: int, polarity: str = "bright") -> np.ndarray:
    """Normalises an image with statistics of its own channels, as the server would record them."""
    stats = [channel_stats(image[c]) for c in range(image.shape[0])]
    return normalize_image(image, stats, model_channels, polarity)
