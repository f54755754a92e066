"""Writes shared/ml/fixtures/normalization.json: raw pixels, their statistics and the normalised
float32 values from tessera_trainer.normalization, which shared/ml/normalization.test.ts must
reproduce exactly. Run from trainer/: /usr/bin/python3 tests/normalization_fixture.py

JSON has no NaN or infinities: such samples are written as the strings "NaN", "Infinity" and
"-Infinity" (which both Number() and float() read back)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tessera_trainer.normalization import channel_stats, normalize_image  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "ml" / "fixtures" / "normalization.json"


def _sample(value: np.generic) -> object:
    number = float(value)
    if np.isnan(number):
        return "NaN"
    if np.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def _case(name: str, image: np.ndarray, model_channels: int, polarity: str = "bright") -> Dict[str, object]:
    """image is (C, H, W); pixels are stored interleaved (H, W, C) as the server decodes them."""
    stats = [channel_stats(image[c]) for c in range(image.shape[0])]
    expected = normalize_image(image, stats, model_channels, polarity)
    return {
        "name": name,
        "dtype": str(image.dtype),
        "width": int(image.shape[2]),
        "height": int(image.shape[1]),
        "channels": int(image.shape[0]),
        "modelChannels": model_channels,
        "polarity": polarity,
        "pixels": [_sample(v) for v in np.moveaxis(image, 0, 2).ravel()],
        "stats": stats,
        "expected": [float(v) for v in expected.ravel()],
    }


def fixture_cases() -> List[Dict[str, object]]:
    rng = np.random.default_rng(11)
    sparse = np.zeros((1, 40, 40), dtype=np.uint16)
    sparse[0, 3, 5] = 900
    float_image = (rng.normal(0.2, 1.5, (1, 9, 11))).astype(np.float32)
    cases = [
        _case("uint8, two channels", rng.integers(0, 256, (2, 13, 17)).astype(np.uint8), 2),
        _case("uint16, wide range", (rng.gamma(2.0, 3000.0, (1, 16, 12))).clip(0, 65535).astype(np.uint16), 2),
        _case("flat channel", np.full((1, 5, 6), 77, dtype=np.uint8), 2),
        _case("sparse: p99.9 equals p1, falls back to max", sparse, 2),
        _case("float32 with negative values", float_image, 2),
        _case("three channels, third ignored", rng.integers(0, 4096, (3, 7, 8)).astype(np.uint16), 2),
    ]
    # Masked pixels of float images: NaN and infinities are left out of the statistics.
    holes = rng.normal(100.0, 30.0, (2, 12, 10)).astype(np.float32)
    holes[0, rng.integers(0, 12, 9), rng.integers(0, 10, 9)] = np.nan
    holes[0, 2, 3] = np.inf
    holes[0, 7, 1] = -np.inf
    holes[1, 5, :4] = np.nan
    no_finite = np.stack([rng.uniform(-1.0, 1.0, (6, 7)), np.full((6, 7), np.nan)]).astype(np.float32)
    return cases + [
        _case("uint8, four channels", rng.integers(0, 256, (4, 9, 7)).astype(np.uint8), 2),
        _case("uint16, two channels with ties", rng.integers(0, 40, (2, 15, 11)).astype(np.uint16) * 1500, 2),
        _case("float32, two channels with NaN and infinities", holes, 2),
        _case("float32, a channel without a finite value", no_finite, 2),
        # Dark objects (stained tissue, brightfield): 1 - x' on the channels the image has.
        _case("dark: uint8 RGB, third channel ignored", rng.integers(0, 256, (3, 8, 9)).astype(np.uint8), 2, "dark"),
        _case("dark: uint16 grey, second model channel stays zero",
              rng.integers(0, 4096, (1, 10, 6)).astype(np.uint16), 2, "dark"),
        _case("dark: flat channel stays zero", np.full((1, 4, 5), 9, dtype=np.uint8), 2, "dark"),
        _case("dark: float32 with NaN and infinities", holes, 2, "dark"),
    ]


def write_fixture(path: Path = FIXTURE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"description": __doc__.splitlines()[0], "cases": fixture_cases()}
    path.write_text(json.dumps(document, allow_nan=False) + "\n")


if __name__ == "__main__":
    write_fixture()
    print(f"wrote {FIXTURE}")
