"""Joint training of the encoder (automatic head) and the click decoder, with RITM's iterative
click simulation: a random number of click rounds without gradient, each adding a click at the
largest error, then one round with gradient. Never touches files; the caller logs and saves.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .clicks import NO_PREVIOUS_MASK_LOGIT, Click, apply_clicks, encode_click_batch, first_click, next_click, random_interior_click
from .data import Batch, TrainingSampler
from .model import FEATURE_STRIDE, ClickDecoder, ImageEncoder


LOSSES = (
    "click: BCE + Dice (full resolution) + 0.4 BCE (upsampled low-resolution logits); "
    "foreground: BCE + Dice; distance: BCE against the normalised distance"
)


@dataclass
class TrainConfig:
    steps: Optional[int] = None
    minutes: Optional[float] = None
    batch_size: int = 8
    crop_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    max_prior_rounds: int = 3
    centre_click_probability: float = 0.7
    log_every: int = 25
    # Fine-tune the click decoder alone: the encoder (and so the automatic head) stays as it is,
    # runs in eval mode without gradients, and each step costs a fraction of a joint one.
    freeze_encoder: bool = False


@dataclass
class TrainRecord:
    step: int
    seconds: float
    learning_rate: float
    loss: float
    click_loss: float
    foreground_loss: float
    distance_loss: float


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice per sample, averaged."""
    probability = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    overlap = (probability * target).sum(1)
    return (1 - (2 * overlap + 1) / (probability.sum(1) + target.sum(1) + 1)).mean()


def mask_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Dice + BCE."""
    return F.binary_cross_entropy_with_logits(logits, target) + dice_loss(logits, target)


def initial_clicks(targets: np.ndarray, rng: np.random.Generator, centre_probability: float) -> List[List[Click]]:
    """First click of each sample: the RITM centre click, or sometimes a random interior one."""
    clicks = []
    for target in targets:
        click = first_click(target) if rng.random() < centre_probability else random_interior_click(target, rng)
        clicks.append([click] if click is not None else [])
    return clicks


@torch.no_grad()
def add_error_clicks(
    decoder: ClickDecoder,
    features: torch.Tensor,
    details: torch.Tensor,
    targets: np.ndarray,
    clicks: List[List[Click]],
    previous: torch.Tensor,
    rounds: int,
) -> torch.Tensor:
    """Runs `rounds` click rounds without gradient, appending the next simulated click to each
    sample's list; returns the last low-resolution mask logits (the next previous mask)."""
    height, width = features.shape[2:]
    for _ in range(rounds):
        maps = encode_click_batch(clicks, height, width, FEATURE_STRIDE).to(features.device)
        mask, previous = decoder(features, details, maps, previous)
        predictions = (mask[:, 0] > 0).cpu().numpy()
        for index, target in enumerate(targets):
            click = next_click(target, apply_clicks(predictions[index], clicks[index]))
            if click is not None:
                clicks[index].append(click)
    return previous


def training_step(
    encoder: ImageEncoder,
    decoder: ClickDecoder,
    batch: Batch,
    rng: np.random.Generator,
    config: TrainConfig,
    device: torch.device,
) -> dict:
    """Losses of one batch (not yet backpropagated)."""
    image = batch.image.to(device)
    foreground_target = batch.foreground.to(device)
    distance_target = batch.distance.to(device)
    target = torch.from_numpy(batch.target.astype(np.float32))[:, None].to(device)
    if config.freeze_encoder:
        with torch.no_grad():
            features, details, foreground, distance = encoder(image)
    else:
        features, details, foreground, distance = encoder(image)
    foreground_loss = mask_loss(foreground, foreground_target)
    distance_loss = F.binary_cross_entropy_with_logits(distance, distance_target)

    clicks = initial_clicks(batch.target, rng, config.centre_click_probability)
    height, width = features.shape[2:]
    previous = torch.full((image.shape[0], 1, height, width), NO_PREVIOUS_MASK_LOGIT, device=device)
    rounds = int(rng.integers(0, config.max_prior_rounds + 1))
    if rounds:
        decoder.eval()
        previous = add_error_clicks(decoder, features.detach(), details.detach(), batch.target, clicks, previous, rounds)
        decoder.train()
    maps = encode_click_batch(clicks, height, width, FEATURE_STRIDE).to(device)
    mask, mask_low = decoder(features, details, maps, previous)
    coarse = F.interpolate(mask_low, scale_factor=float(FEATURE_STRIDE), mode="bilinear", align_corners=False)
    # The coarse logits are fed back on the next click, so they get a loss of their own.
    click_loss = mask_loss(mask, target) + 0.4 * F.binary_cross_entropy_with_logits(coarse, target)
    head_loss = foreground_loss.detach() + distance_loss.detach() if config.freeze_encoder else foreground_loss + distance_loss
    return {
        "loss": click_loss + head_loss,
        "click_loss": click_loss,
        "foreground_loss": foreground_loss,
        "distance_loss": distance_loss,
    }


def learning_rate_at(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to 5% over the budget (progress in [0, 1])."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    return config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def make_optimizer(encoder: ImageEncoder, decoder: ClickDecoder, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trained parameters (the decoder's alone when the encoder is frozen)."""
    parameters = (list(encoder.parameters()) if not config.freeze_encoder else []) + list(decoder.parameters())
    return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


# Called after every optimiser step with (step, training seconds so far, that step's loss);
# returning True ends training there.
StepHook = Callable[[int, float, float], bool]


def train(
    encoder: ImageEncoder,
    decoder: ClickDecoder,
    sampler: TrainingSampler,
    config: TrainConfig,
    device: torch.device,
    rng: np.random.Generator,
    log: Callable[[TrainRecord], None] = lambda record: None,
    optimizer: Optional[torch.optim.Optimizer] = None,
    start_step: int = 0,
    start_seconds: float = 0.0,
    after_step: Optional[StepHook] = None,
) -> List[TrainRecord]:
    """Trains until config.steps or config.minutes runs out (whichever comes first).

    A resumed run passes the optimiser it restored, the step it reached and the training seconds
    it spent: the budget and the learning-rate schedule count them, so a resumed run ends where
    an uninterrupted one would have."""
    if config.steps is None and config.minutes is None:
        raise ValueError("give steps or minutes")
    if optimizer is None:
        optimizer = make_optimizer(encoder, decoder, config)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    encoder.train(not config.freeze_encoder); decoder.train()
    started = time.monotonic() - start_seconds
    records: List[TrainRecord] = []
    sums = {"loss": 0.0, "click_loss": 0.0, "foreground_loss": 0.0, "distance_loss": 0.0}
    count = 0
    step = start_step
    while True:
        elapsed = time.monotonic() - started
        progress_steps = step / config.steps if config.steps else 0.0
        progress_time = elapsed / (60 * config.minutes) if config.minutes else 0.0
        progress = max(progress_steps, progress_time)
        if progress >= 1.0:
            break
        rate = learning_rate_at(config, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = rate
        losses = training_step(encoder, decoder, sampler.next_batch(config.batch_size), rng, config, device)
        optimizer.zero_grad()
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        for key in sums:
            sums[key] += float(losses[key])
        count += 1
        step += 1
        if step % config.log_every == 0 or step == config.steps:
            record = TrainRecord(
                step=step,
                seconds=round(time.monotonic() - started, 1),
                learning_rate=rate,
                **{key: round(value / count, 4) for key, value in sums.items()},
            )
            records.append(record)
            log(record)
            sums = {key: 0.0 for key in sums}
            count = 0
        if after_step is not None and after_step(step, time.monotonic() - started, float(losses["loss"])):
            break
    encoder.eval(); decoder.eval()
    return records


def record_dict(record: TrainRecord) -> dict:
    return asdict(record)
