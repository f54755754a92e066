"""The pretraining run: synthetic data plus real labelled folders (minus their held-out part),
training, held-out evaluation, export of ONNX files, checkpoint, parity fixture and card.
Writes only inside the output folder.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .card import build_card
from .data import (
    HELD_OUT_FRACTION,
    HELD_OUT_SALT,
    LabelledImage,
    TrainingSampler,
    is_held_out,
    list_labelled_folder,
    load_labelled_image,
    prepare_image,
)
from .evaluate import evaluate
from .export import export_onnx, file_info, write_parity_fixture
from .model import ClickDecoder, ImageEncoder, ModelConfig, build_networks, network_costs, widen_state
from .synth import random_synthetic_image
from .train import LOSSES, TrainConfig, TrainRecord, train

CHECKPOINT_FILE = "checkpoint.pt"
CARD_FILE = "card.json"
SYNTHETIC_EVAL_SEED = 7
LOSS_CURVE_POINTS = 60


@dataclass
class PretrainOptions:
    out: Path
    real: List[Path] = field(default_factory=list)
    version: str = "v0"
    parent_version: Optional[str] = None
    train: TrainConfig = field(default_factory=TrainConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    seed: int = 0
    synthetic_eval_images: int = 8
    synthetic_eval_size: int = 256
    eval_max_clicks: int = 20
    init: Optional[Path] = None
    real_fraction: float = 0.6
    command: str = ""


def choose_device(name: str) -> torch.device:
    """'auto' takes CUDA when present, else the CPU; chosen once per run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    return torch.device(name)


def synthetic_evaluation_set(count: int, size: int, model_channels: int) -> List[LabelledImage]:
    """A fixed synthetic set (its own seed, never used in training)."""
    rng = np.random.default_rng(SYNTHETIC_EVAL_SEED)
    return [
        prepare_image(f"synthetic-eval-{i}", "synthetic-eval", s.image, s.labels, model_channels)
        for i, s in ((i, random_synthetic_image(rng, size, size)) for i in range(count))
    ]


def load_real_folders(folders: Sequence[Path], model_channels: int) -> Dict[str, Dict[str, object]]:
    """Per folder: training items, held-out items and the held-out ids."""
    loaded: Dict[str, Dict[str, object]] = {}
    for folder in folders:
        train_items, held_items, held_ids = [], [], []
        for image_id, image_path, label_path in list_labelled_folder(folder):
            item = load_labelled_image(image_id, image_path, label_path, folder.name, model_channels)
            if is_held_out(image_id):
                held_items.append(item)
                held_ids.append(image_id)
            else:
                train_items.append(item)
        loaded[folder.name] = {"path": str(folder), "train": train_items, "held_out": held_items, "held_out_ids": held_ids}
    return loaded


def save_checkpoint(path: Path, encoder: ImageEncoder, decoder: ClickDecoder, config: ModelConfig, version: str) -> None:
    torch.save(
        {
            "version": version,
            "model": config.to_dict(),
            "encoder": {k: v.cpu() for k, v in encoder.state_dict().items()},
            "decoder": {k: v.cpu() for k, v in decoder.state_dict().items()},
        },
        path,
    )


def card_beside(checkpoint: Path) -> Dict[str, object]:
    """The card.json of the version whose checkpoint this is (its folder), or {} if none."""
    card = checkpoint.parent / CARD_FILE
    return json.loads(card.read_text()) if card.exists() else {}


def load_checkpoint(path: Path, device: torch.device):
    state = torch.load(path, map_location="cpu")
    config = ModelConfig.from_dict(state["model"])
    encoder, decoder = build_networks(config)
    encoder.load_state_dict(state["encoder"])
    decoder.load_state_dict(state["decoder"])
    return encoder.to(device).eval(), decoder.to(device).eval(), config, state.get("version")


def loss_curve(records: List[TrainRecord]) -> List[Dict[str, float]]:
    """At most LOSS_CURVE_POINTS records, evenly spread, for the card."""
    if len(records) <= LOSS_CURVE_POINTS:
        chosen = records
    else:
        indices = np.linspace(0, len(records) - 1, LOSS_CURVE_POINTS).round().astype(int)
        chosen = [records[i] for i in indices]
    return [{"step": r.step, "seconds": r.seconds, "loss": r.loss, "clickLoss": r.click_loss} for r in chosen]


def pretrain(options: PretrainOptions, device: torch.device, log: Callable[[str], None] = print) -> Dict[str, object]:
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    channels = options.model.in_channels
    real = load_real_folders(options.real, channels)
    for name, part in real.items():
        log(json.dumps({"event": "real_folder", "name": name, "train": len(part["train"]), "heldOut": len(part["held_out"])}))
    real_train = [item for part in real.values() for item in part["train"]]  # type: ignore[union-attr]
    sampler = TrainingSampler(real_train, rng, channels, options.train.crop_size, real_fraction=options.real_fraction)
    encoder, decoder = build_networks(options.model)
    if options.init is not None:
        state = torch.load(options.init, map_location="cpu")
        source = ModelConfig.from_dict(state["model"])
        if source == options.model:
            encoder.load_state_dict(state["encoder"])
            decoder.load_state_dict(state["decoder"])
        else:
            # A narrower checkpoint of the same layout is widened without changing what it computes.
            try:
                encoder.load_state_dict(widen_state(state["encoder"], encoder))
                decoder.load_state_dict(widen_state(state["decoder"], decoder))
            except ValueError as error:
                raise SystemExit(f"pretrain: {options.init} has another architecture than this trainer builds ({error})")
            log(json.dumps({"event": "widened", "from": source.to_dict(), "to": options.model.to_dict()}))
        log(json.dumps({"event": "init", "checkpoint": str(options.init), "version": state.get("version")}))
    encoder.to(device); decoder.to(device)

    def log_record(record: TrainRecord) -> None:
        log(json.dumps({"event": "train", **asdict(record)}))

    records = train(encoder, decoder, sampler, options.train, device, rng, log_record)
    train_seconds = time.monotonic() - started
    save_checkpoint(options.out / CHECKPOINT_FILE, encoder, decoder, options.model, options.version)

    metrics: Dict[str, object] = {"maxClicks": options.eval_max_clicks, "protocol": "RITM simulated clicks, 256 x 256 crop around each object; IoU thresholds 0.85 / 0.90"}
    eval_started = time.monotonic()
    for name, part in real.items():
        if part["held_out"]:
            result = evaluate(encoder, decoder, part["held_out"], device, options.eval_max_clicks)  # type: ignore[arg-type]
            metrics[f"heldOut:{name}"] = result
            log(json.dumps({"event": "evaluate", "set": name, **result}))
    synthetic = synthetic_evaluation_set(options.synthetic_eval_images, options.synthetic_eval_size, channels)
    metrics["heldOut:synthetic"] = evaluate(encoder, decoder, synthetic, device, options.eval_max_clicks)
    log(json.dumps({"event": "evaluate", "set": "synthetic", **metrics["heldOut:synthetic"]}))  # type: ignore[arg-type]
    metrics["evaluationSeconds"] = round(time.monotonic() - eval_started, 1)

    files = export_onnx(encoder, decoder, options.out)
    files["parity"] = write_parity_fixture(encoder, decoder, options.out)
    files["checkpoint"] = file_info(options.out / CHECKPOINT_FILE)
    costs = network_costs(encoder.cpu(), decoder.cpu())
    last = records[-1] if records else None
    training = {
        "command": options.command,
        "device": str(device),
        "torchThreads": torch.get_num_threads(),
        "seed": options.seed,
        "initialisedFrom": str(options.init) if options.init is not None else None,
        "steps": last.step if last else 0,
        "seconds": round(train_seconds, 1),
        "config": asdict(options.train),
        "data": {
            "synthetic": {
                "generator": "tessera_trainer.synth.random_synthetic_image",
                "images": sampler.generated,
                "note": "touching ellipses and blobs, 8/16-bit, 1-2 channels; pool of up to 400 refreshed every step",
            },
            "real": [
                {
                    "name": name,
                    "path": part["path"],
                    "trainImages": len(part["train"]),  # type: ignore[arg-type]
                    "heldOutImages": len(part["held_out"]),  # type: ignore[arg-type]
                    "heldOutIds": part["held_out_ids"],
                }
                for name, part in real.items()
            ],
            "heldOutRule": f"an image is held out when int(sha256('{HELD_OUT_SALT}' + id)[:8], 16) / 2^32 < "
            f"{HELD_OUT_FRACTION} (id = file name without extension)",
            "realFraction": sampler.real_fraction,
            "augmentations": "random object-centred crops, scale 0.65-1.5, flips, 90-degree rotations, gamma "
            "0.6-1.6, contrast 0.8-1.2, offset +-0.05, Gaussian noise, second channel dropped",
        },
        "losses": LOSSES,
        "lossCurve": loss_curve(records),
    }
    card = build_card(options.version, options.parent_version, options.model, costs, files, training, metrics)
    (options.out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    log(json.dumps({"event": "done", "seconds": round(time.monotonic() - started, 1), "out": str(options.out)}))
    sys.stdout.flush()
    return card
