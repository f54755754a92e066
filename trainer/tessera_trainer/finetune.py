"""Fine-tuning a model version on a project's labelled images: the validation split, the recipe,
a resumable training run with a chart (loss, validation loss on fixed crops), periodic resume
states and a stop flag read every step. Takes items, options and callbacks; never does HTTP
and never writes files, so a worker and an active-learning simulation share it.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .data import LabelledImage, TrainingSampler, batch_from_crops, held_out_score, sample_crop
from .model import ClickDecoder, ImageEncoder, ModelConfig
from .train import TrainConfig, TrainRecord, make_optimizer, train, training_step

VALIDATION_SALT = "job-validation:"
RESUME_FORMAT = "tessera-resume-state"
RESUME_FORMAT_VERSION = 1

# The recipe (README "Fine-tuning"): nine crops in ten from the project's images; the tenth from
# the synthetic generator keeps the click decoder and the automatic head general (a replay of
# what pretraining saw) while a handful of images pulls the weights their way.
REAL_FRACTION = 0.9
# Pretraining warms up over 100 steps from scratch; weights that are already good need fewer
# steps for AdamW's moment estimates to settle, and a short budget should not spend a tenth on it.
WARMUP_STEPS = 50
# Up to 6 simulated correction rounds before the trained one (pretraining: 3; v0's last decoder
# stage: 12): the joint update moves the features, so the decoder keeps practising late clicks,
# which noc85/noc90 measure. Measured here, a step costs about 30 % more than with 3.
MAX_PRIOR_ROUNDS = 6


def recipe(minutes: float, max_steps: int, batch_size: int, crop_size: int, learning_rate: float) -> TrainConfig:
    """The TrainConfig of a fine-tuning job: encoder and decoder together from the base weights."""
    return TrainConfig(
        steps=max_steps,
        minutes=minutes,
        batch_size=batch_size,
        crop_size=crop_size,
        learning_rate=learning_rate,
        warmup_steps=max(1, min(WARMUP_STEPS, max_steps // 10)),
        max_prior_rounds=MAX_PRIOR_ROUNDS,
        freeze_encoder=False,
    )


def split_validation(image_ids: Sequence[str], fraction: float) -> Tuple[List[str], List[str]]:
    """(training ids, validation ids). An image is validation when its fixed score
    (sha256 of 'job-validation:' + id) is below fraction; with two or more images at least one
    is validation (the lowest score) and at least one trains (the highest); a single image is
    training only (the caller validates on it and says so)."""
    ids = list(image_ids)
    if len(ids) < 2:
        return ids, []
    scores = {image_id: held_out_score(image_id, VALIDATION_SALT) for image_id in ids}
    by_score = sorted(ids, key=lambda i: (scores[i], i))
    validation = {i for i in ids if scores[i] < fraction}
    if not validation:
        validation = {by_score[0]}
    if len(validation) == len(ids):
        validation.discard(by_score[-1])
    return [i for i in ids if i not in validation], [i for i in ids if i in validation]


def has_training_objects(item: LabelledImage) -> bool:
    """Whether the sampler can centre a crop on one of its objects (at least 8 pixels)."""
    return bool(len(item.objects)) and bool((item.objects[:, 3] >= 8).any())


@dataclass
class FinetuneOptions:
    train: TrainConfig
    real_fraction: float = REAL_FRACTION
    seed: int = 0
    validation_crops: int = 16
    validation_every_seconds: float = 20.0
    checkpoint_every_seconds: float = 30.0
    # Chart points at most this often (and at most ~1500 over the budget).
    chart_every_seconds: float = 2.0


@dataclass
class ChartPoint:
    step: int
    seconds: float
    loss: Optional[float]
    validation_loss: Optional[float] = None


@dataclass
class FinetuneProgress:
    """Where training stands after a step; total_steps is the projected last step."""

    step: int
    seconds: float
    total_steps: int
    loss: float
    eta_seconds: Optional[float]
    steps_per_second: Optional[float]
    validation_loss: Optional[float]


def _ignore(*_args: object) -> None:
    return None


@dataclass
class FinetuneCallbacks:
    """should_stop is read after every step: a reason ('cancelled', 'shutdown', …) ends training."""

    should_stop: Callable[[], Optional[str]] = lambda: None
    on_step: Callable[[FinetuneProgress], None] = _ignore
    on_point: Callable[[ChartPoint], None] = _ignore
    # A serialised resume state (see resume_state): every checkpoint_every_seconds and at the end.
    on_checkpoint: Callable[[bytes, int], None] = _ignore
    log: Callable[[Dict[str, object]], None] = _ignore


@dataclass
class FinetuneResult:
    steps: int
    seconds: float
    records: List[TrainRecord]  # every logged record, those of a resumed state first
    points: List[ChartPoint]
    stopped: Optional[str]  # the should_stop reason, or None when the budget ended training
    state: bytes  # the final resume state
    resumed_from: Optional[Dict[str, float]] = None
    validation_loss: Optional[float] = None
    synthetic_images: int = 0  # synthetic images generated for this run's batches
    extra: Dict[str, object] = field(default_factory=dict)


def fixed_validation_batch(items: Sequence[LabelledImage], crop_size: int, count: int, seed: int):
    """The same crops every time: object-centred, no rescaling, drawn with their own seed."""
    rng = np.random.default_rng(seed)
    usable = [item for item in items if has_training_objects(item)]
    crops = []
    for attempt in range(count * 20):
        if len(crops) == count or not usable:
            break
        crop = sample_crop(usable[attempt % len(usable)], rng, crop_size, (1.0, 1.0))
        if crop is not None:
            crops.append(crop)
    return batch_from_crops(crops) if crops else None


@torch.no_grad()
def validation_loss(encoder: ImageEncoder, decoder: ClickDecoder, batch, config: TrainConfig,
                    device: torch.device, seed: int) -> float:
    """The training loss on fixed crops with fixed simulated clicks, networks in eval mode."""
    modes = (encoder.training, decoder.training)
    encoder.eval(); decoder.eval()
    try:
        return float(training_step(encoder, decoder, batch, np.random.default_rng(seed), config, device)["loss"])
    finally:
        encoder.train(modes[0]); decoder.train(modes[1])


def resume_state(
    encoder: ImageEncoder,
    decoder: ClickDecoder,
    config: ModelConfig,
    optimizer: torch.optim.Optimizer,
    train_config: TrainConfig,
    step: int,
    seconds: float,
    rng: np.random.Generator,
    records: Sequence[TrainRecord],
    points: Sequence[ChartPoint],
    extra: Dict[str, object],
) -> bytes:
    """A superset of pretrain's checkpoint (model, encoder, decoder: load_checkpoint reads it)
    with what continuing needs. Only tensors, numbers, strings, lists and dicts, so torch.load
    reads it with weights_only."""
    state = {
        "format": RESUME_FORMAT,
        "formatVersion": RESUME_FORMAT_VERSION,
        "version": None,
        "model": config.to_dict(),
        "encoder": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
        "decoder": {k: v.detach().cpu() for k, v in decoder.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        # The schedule is a function of (step, progress); these two fix it.
        "scheduler": {"kind": "linear warm-up, cosine to 5 %", "warmupSteps": train_config.warmup_steps,
                      "step": step, "seconds": seconds},
        "step": step,
        "seconds": seconds,
        "trainConfig": asdict(train_config),
        "rng": {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state()},
        "records": [asdict(r) for r in records],
        "points": [asdict(p) for p in points],
        "extra": json.dumps(extra),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_resume_state(data: bytes) -> Dict[str, object]:
    state = torch.load(io.BytesIO(data), map_location="cpu")
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise ValueError("not a Tessera resume state")
    if int(state.get("formatVersion", 0)) > RESUME_FORMAT_VERSION:  # type: ignore[arg-type]
        raise ValueError(f"resume state format {state.get('formatVersion')} is newer than this trainer's")
    state["extra"] = json.loads(state.get("extra") or "{}")  # type: ignore[arg-type]
    return state


def finetune(
    encoder: ImageEncoder,
    decoder: ClickDecoder,
    config: ModelConfig,
    train_items: Sequence[LabelledImage],
    validation_items: Sequence[LabelledImage],
    options: FinetuneOptions,
    device: torch.device,
    callbacks: Optional[FinetuneCallbacks] = None,
    resume: Optional[Dict[str, object]] = None,
    extra: Optional[Dict[str, object]] = None,
) -> FinetuneResult:
    """Trains encoder and decoder (already on device, holding the base weights) until the
    budget ends or should_stop says why not. With resume (load_resume_state), weights,
    optimiser, step, seconds, random state and chart continue where that state left them."""
    usable = [item for item in train_items if has_training_objects(item)]
    if not usable:
        raise ValueError("no training image has an object of at least 8 pixels")
    callbacks = callbacks or FinetuneCallbacks()
    extra = dict(extra or {})
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    sampler = TrainingSampler(usable, rng, config.in_channels, options.train.crop_size, real_fraction=options.real_fraction)
    optimizer = make_optimizer(encoder, decoder, options.train)
    step, seconds = 0, 0.0
    records: List[TrainRecord] = []
    points: List[ChartPoint] = []
    resumed_from = None
    if resume is not None:
        encoder.load_state_dict(resume["encoder"])  # type: ignore[arg-type]
        decoder.load_state_dict(resume["decoder"])  # type: ignore[arg-type]
        optimizer.load_state_dict(resume["optimizer"])  # type: ignore[arg-type]
        step, seconds = int(resume["step"]), float(resume["seconds"])  # type: ignore[arg-type]
        rng.bit_generator.state = json.loads(resume["rng"]["numpy"])  # type: ignore[index]
        torch.set_rng_state(resume["rng"]["torch"])  # type: ignore[index]
        records = [TrainRecord(**r) for r in resume.get("records", [])]  # type: ignore[union-attr]
        points = [ChartPoint(**p) for p in resume.get("points", [])]  # type: ignore[union-attr]
        resumed_from = {"step": step, "seconds": round(seconds, 1)}
        callbacks.log({"event": "resumed", **resumed_from})

    budget = 60.0 * options.train.minutes if options.train.minutes else float("inf")
    max_steps = options.train.steps or 10**9
    if options.train.steps is None and options.train.minutes is None:
        raise ValueError("give steps or minutes")
    chart_every = max(options.chart_every_seconds, budget / 1500 if budget != float("inf") else 0.0)
    batch = fixed_validation_batch(validation_items, options.train.crop_size, options.validation_crops, options.seed + 1)
    validation_seed = options.seed + 2
    start_step, start_seconds = step, seconds
    clock = {"point": seconds, "validation": -float("inf"), "checkpoint": seconds}
    window = {"sum": 0.0, "count": 0}
    latest: Dict[str, Optional[float]] = {"ema": None, "validation": None}
    stopped: List[str] = []
    current = {"step": step, "seconds": seconds}

    def state_bytes() -> bytes:
        return resume_state(encoder, decoder, config, optimizer, options.train, current["step"], current["seconds"],
                            rng, records, points, extra)

    def measure() -> Optional[float]:
        if batch is None:
            return None
        latest["validation"] = round(validation_loss(encoder, decoder, batch, options.train, device, validation_seed), 5)
        return latest["validation"]

    def add_point(validate: bool) -> None:
        validation = None
        if validate:
            validation = measure()
            clock["validation"] = current["seconds"]
        loss = round(window["sum"] / window["count"], 5) if window["count"] else None
        point = ChartPoint(current["step"], round(current["seconds"], 1), loss, validation)
        points.append(point); callbacks.on_point(point)
        clock["point"] = current["seconds"]
        window["sum"], window["count"] = 0.0, 0

    def after_step(now_step: int, now_seconds: float, loss: float) -> bool:
        current["step"], current["seconds"] = now_step, now_seconds
        window["sum"] += loss; window["count"] += 1
        latest["ema"] = loss if latest["ema"] is None else 0.9 * latest["ema"] + 0.1 * loss
        last = now_step >= max_steps
        if now_seconds - clock["point"] >= chart_every or last:
            add_point(now_seconds - clock["validation"] >= options.validation_every_seconds or last)
        rate = (now_step - start_step) / max(now_seconds - start_seconds, 1e-6)
        left = min((max_steps - now_step) / rate, budget - now_seconds)
        callbacks.on_step(FinetuneProgress(
            step=now_step, seconds=now_seconds, total_steps=int(min(max_steps, now_step + rate * max(0.0, budget - now_seconds))),
            loss=round(float(latest["ema"]), 5), eta_seconds=max(0.0, left), steps_per_second=rate,
            validation_loss=latest["validation"],
        ))
        reason = callbacks.should_stop()
        if reason:
            stopped.append(reason)
            return True
        if now_seconds - clock["checkpoint"] >= options.checkpoint_every_seconds and now_step < max_steps:
            callbacks.on_checkpoint(state_bytes(), now_step)
            clock["checkpoint"] = now_seconds
        return False

    reason = callbacks.should_stop()
    if reason:
        stopped.append(reason)
    elif step < max_steps and seconds < budget:
        initial = measure()
        clock["validation"] = seconds
        if resume is None:
            points.append(ChartPoint(step, round(seconds, 1), None, initial)); callbacks.on_point(points[-1])

        def record(entry: TrainRecord) -> None:
            records.append(entry)
            callbacks.log({"event": "train", **asdict(entry)})

        train(encoder, decoder, sampler, options.train, device, rng, record,
              optimizer=optimizer, start_step=step, start_seconds=seconds, after_step=after_step)
        if not stopped and current["step"] > start_step and (not points or points[-1].step != current["step"]):
            add_point(True)  # the last step, with its validation loss
    encoder.eval(); decoder.eval()
    final = state_bytes()
    if not stopped and current["step"] > start_step:
        callbacks.on_checkpoint(final, current["step"])
    return FinetuneResult(
        steps=current["step"], seconds=current["seconds"], records=records, points=points,
        stopped=stopped[0] if stopped else None, state=final, resumed_from=resumed_from,
        validation_loss=latest["validation"], synthetic_images=sampler.generated, extra=extra,
    )
