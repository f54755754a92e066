"""The model card (card.json): everything the browser, the Node evaluation CLI and the trainer
need to run a model version identically. Pure: builds a dict from what it is given.
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

import torch

from . import TRAINER_VERSION
from .clicks import CLICK_SIGMA_PIXELS, NO_PREVIOUS_MASK_LOGIT
from .export import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS
from .model import FEATURE_STRIDE, SIZE_MULTIPLE, ModelConfig
from .normalization import HIGH_PERCENTILE, LOW_PERCENTILE, POLARITIES
from .proposals import FOREGROUND_THRESHOLD, MIN_AREA, MIN_SEED_AREA, SEED_THRESHOLD

CARD_FORMAT = "tessera-model-card"
CARD_FORMAT_VERSION = 1


def _io(name: str, shape: List[object], meaning: str) -> Dict[str, object]:
    return {"name": name, "dtype": "float32", "shape": shape, "meaning": meaning}


def card_polarity(card: Dict[str, object]) -> str:
    """A card's input.polarity: 'bright' (also for cards written before it existed) or 'dark'."""
    section = card.get("input")
    polarity = section.get("polarity", "bright") if isinstance(section, dict) else "bright"
    if polarity not in POLARITIES:
        raise ValueError(f"card input.polarity must be one of {POLARITIES}, not {polarity!r}")
    return str(polarity)


def build_card(
    version: str,
    parent_version: Optional[str],
    config: ModelConfig,
    costs: Dict[str, float],
    files: Dict[str, Dict[str, object]],
    training: Dict[str, object],
    metrics: Dict[str, object],
    created_at: Optional[str] = None,
    proposals: Optional[Dict[str, object]] = None,
    polarity: str = "bright",
) -> Dict[str, object]:
    """proposals: thresholds chosen for this version (and how), replacing the trainer's defaults;
    polarity: 'dark' when the version reads its images inverted (objects darker than background)."""
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, not {polarity!r}")
    c, f, d = config.in_channels, config.feature_channels, config.detail_channels
    fh, fw = f"height/{FEATURE_STRIDE}", f"width/{FEATURE_STRIDE}"
    assert ENCODER_INPUTS == ["image"] and len(ENCODER_OUTPUTS) == 4 and DECODER_INPUTS == ["features", "clicks", "previousMask"] and DECODER_OUTPUTS == ["coarse"]
    return {
        "format": CARD_FORMAT,
        "formatVersion": CARD_FORMAT_VERSION,
        "version": version,
        "parentVersion": parent_version,
        "createdAt": created_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "task": "interactive (clicks) and automatic instance segmentation of bright objects on a dark "
        "background, e.g. fluorescent nuclei" if polarity == "bright" else
        "interactive (clicks) and automatic instance segmentation of dark objects on a bright background, "
        "e.g. nuclei in stained tissue or brightfield",
        "trainer": {"name": "tessera_trainer", "version": TRAINER_VERSION, "torch": torch.__version__},
        "files": files,
        "input": {
            "channels": c,
            "layout": "NCHW float32",
            "channelSelection": f"model channel k takes image channel k for k < {c}; further image channels "
            "are ignored; a channel the image lacks is all zeros",
            "normalization": {
                "method": "percentile",
                "low": {"statistic": "percentile", "key": LOW_PERCENTILE},
                "high": {"statistic": "percentile", "key": HIGH_PERCENTILE},
                "statistics": "per channel over the whole image (not the tile), percentiles by linear "
                "interpolation between closest ranks, as in shared/schemas/images.ts ChannelStats",
                "fallback": "if high <= low then high = max; if still high <= low the channel is all zeros",
                "formula": "x' = min(max((x - low) / (high - low), 0), 1), in float64, rounded once to float32"
                if polarity == "bright" else
                "x' = 1 - min(max((x - low) / (high - low), 0), 1) for every channel the image has, in float64, "
                "rounded once to float32",
            },
            "polarity": polarity,
            "sizeMultiple": SIZE_MULTIPLE,
            "padding": f"pad the normalised image with zeros on the bottom and right to a multiple of {SIZE_MULTIPLE}",
            "featureStride": FEATURE_STRIDE,
            "tileSize": 512,
            "tileOverlap": 64,
            "clickCropSize": 256,
            "clickCropAlignment": f"crop origins are multiples of {FEATURE_STRIDE} so feature cells line up",
        },
        "encoder": {
            "file": files.get("encoder", {}).get("path", "encoder.onnx"),
            "inputs": [_io("image", ["batch", c, "height", "width"], "normalised image")],
            "outputs": [
                _io("features", ["batch", f, fh, fw], "image features for the click decoder"),
                _io("details", ["batch", d, "height", "width"], "full-resolution detail features for the decoder"),
                _io("foreground", ["batch", 1, "height", "width"], "logit of 'pixel belongs to an object'"),
                _io(
                    "distance",
                    ["batch", 1, "height", "width"],
                    "logit of the pixel's distance to its object's edge divided by that object's largest "
                    "such distance (1 at the centre, 0 at the edge and on background)",
                ),
            ],
            "parameters": costs["encoderParameters"],
            "macs512": costs["encoderMacs512"],
            "gflops512": costs["encoderGflops512"],
            "bnFolded": True,
        },
        "decoder": {
            "file": files.get("decoder", {}).get("path", "decoder.onnx"),
            "inputs": [
                _io("features", ["batch", f, fh, fw], "the encoder's features of the crop"),
                _io("clicks", ["batch", 2, fh, fw], "click maps, see clickEncoding"),
                _io(
                    "previousMask",
                    ["batch", 1, fh, fw],
                    f"channel 0 of the previous click's coarse output; {NO_PREVIOUS_MASK_LOGIT} everywhere for the first click",
                ),
            ],
            "outputs": [
                _io(
                    "coarse",
                    ["batch", 1 + d, fh, fw],
                    "channel 0: mask logits at feature resolution (fed back as previousMask); channels 1..D: weights of the detail features",
                ),
            ],
            "refinement": {
                "formula": "full-resolution mask logits = up[0] + sum_k up[k] * details[k-1], k = 1..D, where up = "
                "bilinear x4 upsampling of coarse with half-pixel centres (PyTorch align_corners=False, edge-clamped) and "
                "details = the encoder's details of the crop; object where > clickEncoding.maskThreshold",
                "implementations": ["trainer/tessera_trainer/model.py refine_with_details", "shared/ml/refine.ts"],
            },
            "parameters": costs["decoderParameters"],
            "macsPerClick256": costs["decoderMacsPerClick256"],
            "gflopsPerClick256": costs["decoderGflopsPerClick256"],
            "flopsNote": "MACs of convolutions counted with hooks (resizes and activations not counted); GFLOP = 2 x MACs",
        },
        "clickEncoding": {
            "kind": "gaussian",
            "channels": ["positive", "negative"],
            "sigmaPixels": CLICK_SIGMA_PIXELS,
            "resolution": "feature map (stride 4) of the crop",
            "formula": "map[c][i][j] = max over clicks of channel c of exp(-d^2 / (2 sigma^2)), d = distance in "
            f"pixels from the click centre (x + 0.5, y + 0.5) to the cell centre ({FEATURE_STRIDE} (j + 0.5), "
            f"{FEATURE_STRIDE} (i + 0.5)), in crop pixel coordinates; 0 where a channel has no click",
            "clickCoordinates": "integer pixel column x and row y of the clicked pixel",
            "allClicks": "every click of the current object so far is encoded, not only the last",
            "exactness": "the decoder recovers each cell's distance to the nearest click from these maps "
            "(d^2 = -2 sigma^2 ln value), so encode with exactly this sigma and formula",
            "maskThreshold": 0.0,
            "consistency": "after the refinement each clicked pixel takes its click's label (logit +20 for a "
            "positive click, -20 for a negative one; a later click on the same pixel wins), so a click on a "
            "wrongly labelled pixel always changes the mask; trainer clicks.apply_clicks, "
            "shared/ml/segmenter.ts applyClickConsistency; evaluation and training clicks follow it",
        },
        "proposals": {
            "from": ["foreground", "distance"],
            **(proposals or {
                "foregroundThreshold": FOREGROUND_THRESHOLD,
                "seedThreshold": SEED_THRESHOLD,
                "minSeedArea": MIN_SEED_AREA,
                "minArea": MIN_AREA,
            }),
            "connectivity": 4,
            "algorithm": [
                "foreground = sigmoid(foreground) > foregroundThreshold",
                "seeds = 4-connected components of foreground AND sigmoid(distance) > seedThreshold with at "
                "least minSeedArea pixels, numbered in raster order",
                "grow the seeds through the foreground one 4-connected pixel layer at a time; a pixel reached "
                "by several seeds in the same layer takes the lowest number",
                "foreground components no seed reached become objects of their own",
                "drop objects under minArea pixels",
                "score = mean sigmoid(foreground) over the object's pixels",
            ],
        },
        "training": training,
        "metrics": metrics,
    }
