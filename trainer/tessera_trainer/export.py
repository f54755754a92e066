"""Exports a trained encoder and decoder as two ONNX files (BatchNorm folded, opset 17, dynamic
batch, height and width) and a parity fixture: fixed inputs with the PyTorch outputs, which the
Node and browser tests run through ONNX Runtime. Never changes the trained modules it is given.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from .clicks import NO_PREVIOUS_MASK_LOGIT, Click, encode_clicks
from .model import FEATURE_STRIDE, ClickDecoder, ImageEncoder, fold_batch_norm
from .normalization import normalize_with_own_stats
from .onnx_summary import summarize_onnx
from .synth import generate_image

OPSET = 17
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
PARITY_FILE = "parity.json"
# ONNX Runtime and PyTorch differ by float rounding in convolutions and resizes only.
PARITY_TOLERANCE = {"absolute": 1e-3, "relative": 1e-3}

ENCODER_INPUTS = ["image"]
ENCODER_OUTPUTS = ["features", "details", "foreground", "distance"]
DECODER_INPUTS = ["features", "clicks", "previousMask"]
DECODER_OUTPUTS = ["coarse"]


class CoarseDecoderGraph(torch.nn.Module):
    """The exported decoder: its feature-resolution part only. Resizing 1 + D channels to full
    resolution and summing with the details took most of a click's time in ONNX Runtime's wasm
    build (its Resize and ReduceSum kernels are slow there), so runtimes do that elementwise step
    themselves (shared/ml/refine.ts), checked against PyTorch's full output by the parity fixture."""

    def __init__(self, decoder: ClickDecoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, features: torch.Tensor, clicks: torch.Tensor, previous_mask: torch.Tensor) -> torch.Tensor:
        return self.decoder.predict_coarse(features, clicks, previous_mask)


def _exporter_options() -> Dict[str, object]:
    """torch >= 2.5 has a second (dynamo) exporter, the default in recent versions; the
    TorchScript one used here is what torch 1.13 has, so both give the same graphs."""
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def frozen_copies(encoder: ImageEncoder, decoder: ClickDecoder) -> tuple[ImageEncoder, ClickDecoder]:
    """CPU copies in eval mode with BatchNorm folded: exactly the graphs that are exported."""
    frozen_encoder = fold_batch_norm(copy.deepcopy(encoder).cpu().eval())
    frozen_decoder = copy.deepcopy(decoder).cpu().eval()
    return frozen_encoder, frozen_decoder  # type: ignore[return-value]


def file_info(path: Path) -> Dict[str, object]:
    data = path.read_bytes()
    return {"path": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def export_onnx(encoder: ImageEncoder, decoder: ClickDecoder, out_dir: Path) -> Dict[str, Dict[str, object]]:
    """Writes encoder.onnx and decoder.onnx; returns their sizes and hashes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder, decoder = frozen_copies(encoder, decoder)
    height, width = 64, 96
    image = torch.zeros(1, encoder.in_channels, height, width)
    spatial = {0: "batch", 2: "height", 3: "width"}
    feature_spatial = {0: "batch", 2: "featureHeight", 3: "featureWidth"}
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 warns about the constant scales of Resize; the graphs are checked below.
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
        torch.onnx.export(
            encoder,
            (image,),
            str(out_dir / ENCODER_FILE),
            input_names=ENCODER_INPUTS,
            output_names=ENCODER_OUTPUTS,
            dynamic_axes={
                "image": spatial,
                "features": feature_spatial,
                "details": spatial,
                "foreground": spatial,
                "distance": spatial,
            },
            opset_version=OPSET,
            do_constant_folding=True,
            **_exporter_options(),
        )
        features, details, _, _ = encoder(image)
        clicks = torch.zeros(1, 2, height // FEATURE_STRIDE, width // FEATURE_STRIDE)
        previous = torch.full((1, 1, height // FEATURE_STRIDE, width // FEATURE_STRIDE), NO_PREVIOUS_MASK_LOGIT)
        torch.onnx.export(
            CoarseDecoderGraph(decoder),
            (features, clicks, previous),
            str(out_dir / DECODER_FILE),
            input_names=DECODER_INPUTS,
            output_names=DECODER_OUTPUTS,
            dynamic_axes={
                "features": feature_spatial,
                "clicks": feature_spatial,
                "previousMask": feature_spatial,
                "coarse": feature_spatial,
            },
            opset_version=OPSET,
            do_constant_folding=True,
            **_exporter_options(),
        )
    for name, inputs, outputs in (
        (ENCODER_FILE, ENCODER_INPUTS, ENCODER_OUTPUTS),
        (DECODER_FILE, DECODER_INPUTS, DECODER_OUTPUTS),
    ):
        summary = summarize_onnx(out_dir / name)
        if summary.inputs != inputs or summary.outputs != outputs or summary.opsets.get("", 0) != OPSET:
            raise RuntimeError(f"{name}: unexpected graph {summary}")
        if "BatchNormalization" in summary.op_types:
            raise RuntimeError(f"{name}: BatchNorm was not folded")
    return {"encoder": file_info(out_dir / ENCODER_FILE), "decoder": file_info(out_dir / DECODER_FILE)}


def _tensor_entry(tensor: torch.Tensor) -> Dict[str, object]:
    array = tensor.detach().cpu().numpy().astype("<f4")
    return {
        "shape": list(array.shape),
        "dtype": "float32",
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def parity_clicks() -> List[Click]:
    return [Click(x=40, y=20, positive=True), Click(x=12, y=33, positive=False), Click(x=45, y=26, positive=True)]


def write_parity_fixture(encoder: ImageEncoder, decoder: ClickDecoder, out_dir: Path) -> Dict[str, object]:
    """parity.json: a fixed 48 x 64 synthetic image through the encoder, and one decoder call on
    its outputs (clicks given both as a list and encoded), with the PyTorch outputs."""
    encoder, decoder = frozen_copies(encoder, decoder)
    sample = generate_image(np.random.default_rng(20240601), 48, 64, channels=1, bit_depth=16)
    image = torch.from_numpy(normalize_with_own_stats(sample.image, encoder.in_channels))[None]
    clicks = parity_clicks()
    fh, fw = 48 // FEATURE_STRIDE, 64 // FEATURE_STRIDE
    click_maps = torch.from_numpy(encode_clicks(clicks, fh, fw, FEATURE_STRIDE))[None]
    previous = torch.full((1, 1, fh, fw), NO_PREVIOUS_MASK_LOGIT)
    with torch.no_grad():
        features, details, foreground, distance = encoder(image)
        mask, mask_low = decoder(features, details, click_maps, previous)
        coarse = decoder.predict_coarse(features, click_maps, previous)
    fixture = {
        "description": "Fixed inputs and the PyTorch outputs of the exported graphs (BatchNorm folded).",
        "tolerance": {**PARITY_TOLERANCE, "rule": "|onnx - torch| <= absolute + relative * |torch| elementwise"},
        "layout": "float32 little-endian, row-major (NCHW), base64",
        "encoder": {
            "inputs": {"image": _tensor_entry(image)},
            "outputs": {
                "features": _tensor_entry(features),
                "details": _tensor_entry(details),
                "foreground": _tensor_entry(foreground),
                "distance": _tensor_entry(distance),
            },
        },
        "decoder": {
            "clickList": [{"x": c.x, "y": c.y, "positive": c.positive} for c in clicks],
            "inputs": {
                "features": _tensor_entry(features),
                "details": _tensor_entry(details),
                "clicks": _tensor_entry(click_maps),
                "previousMask": _tensor_entry(previous),
            },
            # The graph's output, and the full decoder's (after the refinement runtimes do).
            "outputs": {
                "coarse": _tensor_entry(coarse),
                "mask": _tensor_entry(mask),
                "maskLowRes": _tensor_entry(mask_low),
            },
        },
    }
    path = out_dir / PARITY_FILE
    path.write_text(json.dumps(fixture))
    return file_info(path)
