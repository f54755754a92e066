"""Active learning, simulated: an annotator who labels the K pool images a strategy ranks first by
copying their ground truth, the worker's fine-tuning (finetune.py) on every label so far, and a
test on a labelled folder, round after round, per strategy and seed. Reads the folders and the
base checkpoint and returns a report; never talks HTTP and writes only the synthetic stand-in.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .card import card_polarity
from .data import LabelledImage, load_labelled_folder, median_object_contrast, polarity_for
from .evaluate import encode_image, evaluate, match_instances
from .finetune import FinetuneOptions, has_training_objects, recipe, split_validation
from .finetune import finetune as run_finetune
from .model import ClickDecoder, ImageEncoder, ModelConfig
from .png import write_png
from .pretrain import card_beside, load_checkpoint
from .proposals import ProposalOptions, propose_instances
from .protocol import TrainingConfig
from .scoring import candidate_from_image
from .strategies import STRATEGY_NAMES, Candidate, needs, rank, summarize
from .synth import generate_image
from .training_job import base_proposal_options, tuning_images
from .tune_proposals import best_proposal_options, encode_heads

REPORT_FORMAT = "tessera-al-simulation"
# A job's defaults (protocol.TrainingConfig): what a Train press sends unless the project says otherwise.
JOB_DEFAULTS = TrainingConfig(minutes=1.0, max_steps=1)
# The first round's K images: the random strategy's order under the seed, shared by every strategy.
FIRST_ROUND_STRATEGY = "random"
# The fine-tune seed of round r under simulation seed s: the same for every strategy, so their
# curves differ by the images they chose, not by the crops drawn (common random numbers).
ROUND_SEED_STRIDE = 1000

Log = Callable[[Dict[str, object]], None]


@dataclass(frozen=True)
class SimulationConfig:
    pool: Path
    test: Path
    checkpoint: Path
    strategies: Tuple[str, ...] = STRATEGY_NAMES
    seeds: int = 2
    rounds: int = 4
    per_round: int = 4
    steps: int = 200  # optimiser steps per round (a fixed budget, so runs repeat exactly)
    batch_size: int = JOB_DEFAULTS.batch_size
    crop_size: int = JOB_DEFAULTS.crop_size
    learning_rate: float = JOB_DEFAULTS.learning_rate
    validation_fraction: float = JOB_DEFAULTS.validation_fraction
    # NoC@85 (simulated clicks) costs a decoder pass per click and object: only the final round's
    # models (and the base) are measured, on the first noc_images test images in id order.
    noc_images: int = 3
    max_clicks: int = 20
    # Each round fine-tunes the base on every label so far (False) or, as the app's next job
    # would, the previous round's weights (True). From the base, a round's model depends on its
    # labelled set alone, not on how many rounds of steps came before, so "labels needed to
    # reach random's final AP50" compares label sets at equal training.
    warm_start: bool = False

    def check(self) -> None:
        unknown = [s for s in self.strategies if s not in STRATEGY_NAMES]
        if unknown:
            raise ValueError(f"unknown strategies {unknown} (known: {', '.join(STRATEGY_NAMES)})")
        if not self.strategies or len(set(self.strategies)) != len(self.strategies):
            raise ValueError("give each strategy once, at least one")
        for name in ("seeds", "rounds", "per_round", "steps", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.noc_images < 0 or self.max_clicks < 1:
            raise ValueError("noc_images must be >= 0 and max_clicks >= 1")

    def to_json(self) -> Dict[str, object]:
        values = asdict(self)
        for key in ("pool", "test", "checkpoint"):
            values[key] = str(values[key])
        values["strategies"] = list(self.strategies)
        return values


@dataclass
class Model:
    """The weights a round ends with and the proposal thresholds tuned for them."""

    encoder: ImageEncoder
    decoder: ClickDecoder
    config: ModelConfig
    proposals: ProposalOptions

    def copy(self) -> "Model":
        return Model(copy.deepcopy(self.encoder), copy.deepcopy(self.decoder), self.config, self.proposals)


class Stopwatch:
    """Process CPU seconds (every thread) and wall seconds per named phase."""

    def __init__(self) -> None:
        self.cpu: Dict[str, float] = {}
        self.wall: Dict[str, float] = {}

    def measure(self, phase: str, work: Callable[[], object]) -> object:
        cpu, wall = time.process_time(), time.monotonic()
        try:
            return work()
        finally:
            self.cpu[phase] = round(self.cpu.get(phase, 0.0) + time.process_time() - cpu, 2)
            self.wall[phase] = round(self.wall.get(phase, 0.0) + time.monotonic() - wall, 2)

    def to_json(self) -> Dict[str, Dict[str, float]]:
        return {"cpuSeconds": dict(self.cpu), "wallSeconds": dict(self.wall)}


def proposal_metrics(model: Model, items: Sequence[LabelledImage], device: torch.device) -> Dict[str, float]:
    """auto_ap50 and auto_mean_matched_iou exactly as evaluate.evaluate computes them (TP, FP and
    FN pooled over the images), without the simulated clicks."""
    model.encoder.eval()
    tp = fp = fn = 0
    matched_iou = 0.0
    for item in items:
        _, _, foreground, distance = encode_image(model.encoder, item.image, device)
        match = match_instances(item.labels, propose_instances(foreground, distance, model.proposals).labels)
        tp += int(match["tp"]); fp += int(match["fp"]); fn += int(match["fn"])
        matched_iou += match["sum_matched_iou"]
    return {"auto_ap50": tp / max(1, tp + fp + fn), "auto_mean_matched_iou": matched_iou / max(1, tp)}


def click_metrics(model: Model, items: Sequence[LabelledImage], device: torch.device, max_clicks: int) -> Dict[str, float]:
    """NoC@85, NoC@90 and IoU at one click (evaluate.evaluate) on the fixed NoC subset."""
    if not items:
        return {}
    result = evaluate(model.encoder, model.decoder, items, device, max_clicks, model.proposals)
    return {"noc85": result["noc85"], "noc90": result["noc90"], "iou_at_1click": result["iou_at_1click"],
            "noc_images": result["n_images"], "noc_objects": result["n_objects"]}


def train_round(model: Model, labelled: Sequence[LabelledImage], config: SimulationConfig, seed: int,
                device: torch.device) -> Tuple[Model, Dict[str, object]]:
    """What a training job does with the labelled images: the worker's validation split, a
    fine-tune of a copy of `model` with the job recipe and a fixed step budget, then the
    proposal thresholds tuned on the training part (training_job.tuning_images)."""
    by_id = {item.image_id: item for item in labelled}
    train_ids, validation_ids = split_validation(list(by_id), config.validation_fraction)
    train_items = [by_id[i] for i in train_ids]
    validation_items = [by_id[i] for i in validation_ids] or train_items
    if not any(has_training_objects(item) for item in train_items):
        # As the worker refuses such a job: the round keeps the current model.
        return model.copy(), {"trained": False, "trainingImages": len(train_items), "validationImages": len(validation_ids)}
    new = model.copy()
    options = FinetuneOptions(
        train=recipe(None, config.steps, config.batch_size, config.crop_size, config.learning_rate),  # type: ignore[arg-type]
        seed=seed,
    )
    result = run_finetune(new.encoder, new.decoder, new.config, train_items, validation_items, options, device)
    tuned, tuned_ap50 = best_proposal_options(encode_heads(new.encoder, tuning_images(train_items), device))
    new.proposals = tuned
    return new, {"trained": True, "steps": result.steps, "trainingImages": len(train_items),
                 "validationImages": len(validation_ids), "validationLoss": result.validation_loss,
                 "proposals": tuned.to_card(), "tuningAp50": round(tuned_ap50, 4)}


def score_pool(model: Model, strategy: str, pool: Sequence[LabelledImage], unlabelled: Sequence[int],
               seed: int, per_round: int, device: torch.device) -> List[Tuple[int, float]]:
    """The strategy's ranking of the unlabelled pool images (indices into pool) with the model,
    as the worker's score phase makes it (scoring.candidate_from_image, strategies.rank)."""
    wanted = needs(strategy)
    candidates: List[Candidate] = []
    for index in unlabelled:
        if wanted:
            candidate = candidate_from_image(model.encoder, pool[index].image, device, index, wanted, model.proposals)
        else:
            candidate = Candidate(image_id=index)  # random reads no pixels
        candidates.append(summarize(strategy, candidate, seed))
    # The greedy of 'diverse' picks exactly the K the annotator labels next.
    return rank(strategy, candidates, seed, per_round)


def measure(model: Model, test: Sequence[LabelledImage], noc_items: Sequence[LabelledImage], device: torch.device,
            max_clicks: int, with_clicks: bool) -> Dict[str, float]:
    metrics = proposal_metrics(model, test, device)
    if with_clicks:
        metrics.update(click_metrics(model, noc_items, device, max_clicks))
    return {key: round(float(value), 5) for key, value in metrics.items()}


@dataclass
class RoundRecord:
    round: int
    labelled: int
    picked: List[str]
    metrics: Dict[str, float]
    training: Dict[str, object]
    cpu_seconds: Dict[str, float]
    wall_seconds: Dict[str, float]
    shared: bool = False  # the first round: one pick, fine-tune and evaluation per seed
    scores: List[float] = field(default_factory=list)  # the picked images' strategy scores

    def to_json(self) -> Dict[str, object]:
        return {"round": self.round, "labelled": self.labelled, "picked": self.picked, "shared": self.shared,
                "scores": self.scores, "metrics": self.metrics, "training": self.training,
                "cpuSeconds": self.cpu_seconds, "wallSeconds": self.wall_seconds}


def simulate(config: SimulationConfig, device: torch.device, log: Log = lambda event: None) -> Dict[str, object]:
    """Every strategy for every seed: round 1 is the same random K for all (trained and measured
    once per seed), then each round the strategy ranks the rest of the pool with the model the
    previous round made, the top K are labelled and the model is fine-tuned on all labels so far."""
    config.check()
    started = time.monotonic()
    base_encoder, base_decoder, model_config, version = load_checkpoint(config.checkpoint, device)
    base_proposals = proposals_of_checkpoint(config.checkpoint, log)
    base = Model(base_encoder, base_decoder, model_config, base_proposals)
    base_polarity = card_polarity(card_beside(config.checkpoint))
    # The folders as a model of each polarity reads them (normalised, inverted for 'dark').
    views: Dict[str, Tuple[List[LabelledImage], List[LabelledImage]]] = {}

    def view(polarity: str) -> Tuple[List[LabelledImage], List[LabelledImage]]:
        if polarity not in views:
            views[polarity] = (
                load_labelled_folder(config.pool, model_config.in_channels, held_out=None, polarity=polarity),
                load_labelled_folder(config.test, model_config.in_channels, held_out=None, polarity=polarity),
            )
        return views[polarity]

    pool, test = view(base_polarity)
    if len(pool) < config.rounds * config.per_round:
        raise ValueError(f"the pool has {len(pool)} images; {config.rounds} rounds of {config.per_round} need "
                         f"{config.rounds * config.per_round}")
    if not test:
        raise ValueError(f"{config.test}: no test images")
    noc_items = test[: config.noc_images]
    log({"event": "loaded", "pool": len(pool), "test": len(test), "nocImages": len(noc_items),
         "seconds": round(time.monotonic() - started, 1)})

    watch = Stopwatch()
    baseline_metrics = watch.measure("evaluation", lambda: measure(base, test, noc_items, device, config.max_clicks, True))
    baseline = {"labelled": 0, "metrics": baseline_metrics, "proposals": base.proposals.to_card(), **watch.to_json()}
    log({"event": "baseline", **baseline})

    runs: List[Dict[str, object]] = []
    for seed in range(config.seeds):
        pool, test = view(base_polarity)
        everyone = list(range(len(pool)))
        first = [index for index, _ in score_pool(base, FIRST_ROUND_STRATEGY, pool, everyone, seed, config.per_round,
                                                   device)[: config.per_round]]
        # As a job chooses it (training_job): from the labelled images, then fixed for the seed.
        polarity = polarity_for(median_object_contrast([pool[i] for i in first]), base_polarity)
        pool, test = view(polarity)
        noc_items = test[: config.noc_images]
        shared_model, shared_record = run_round(base, pool, test, noc_items, first, [], 1, seed, config, device,
                                                None)
        shared_record.shared = True
        log({"event": "round", "seed": seed, "strategy": "*", **shared_record.to_json()})
        for strategy in config.strategies:
            records = [shared_record]
            model, labelled = shared_model, list(first)
            for round_number in range(2, config.rounds + 1):
                unlabelled = [i for i in everyone if i not in set(labelled)]
                watch = Stopwatch()
                ranking = watch.measure("scoring", lambda: score_pool(model, strategy, pool, unlabelled, seed,
                                                                      config.per_round, device))
                chosen = ranking[: config.per_round]  # type: ignore[index]
                picks = [index for index, _ in chosen]
                start = model if config.warm_start else base
                model, record = run_round(start, pool, test, noc_items, picks, labelled, round_number, seed,
                                          config, device, watch)
                record.scores = [round(float(score), 6) for _, score in chosen]
                labelled = labelled + picks
                records.append(record)
                log({"event": "round", "seed": seed, "strategy": strategy, **record.to_json()})
            runs.append({"strategy": strategy, "seed": seed, "polarity": polarity,
                         "rounds": [r.to_json() for r in records]})
    return {
        "format": REPORT_FORMAT,
        "formatVersion": 1,
        "base": {"checkpoint": str(config.checkpoint), "version": version},
        "config": config.to_json(),
        "device": str(device),
        "torchThreads": torch.get_num_threads(),
        "pool": {"folder": str(config.pool), "images": len(pool), "ids": [item.image_id for item in pool]},
        "test": {"folder": str(config.test), "images": len(test), "objects": int(sum(len(i.objects) for i in test)),
                 "nocIds": [item.image_id for item in noc_items]},
        "protocol": {
            "firstRound": "the random strategy's first K under the seed, shared by every strategy: trained and "
            "measured once per seed",
            "training": "each round fine-tunes (finetune.finetune, the worker's recipe) "
            + ("the previous round's weights" if config.warm_start else "the base weights")
            + " on every image labelled so far, split into training and validation as the worker splits a job, "
            f"{config.steps} steps of {config.batch_size} crops; proposal thresholds tuned on the training part",
            "polarity": "per seed, as a job chooses it from its training images (data.polarity_for) on the "
            "first round's labelled images; every later model of the seed reads pool and test that way",
            "ranking": "the previous round's model scores the unlabelled pool (scoring.candidate_from_image with its "
            "tuned thresholds) and strategies.rank orders it (diverse: a greedy of K); the top K are labelled",
            "metrics": "auto_ap50 and auto_mean_matched_iou of the automatic proposals on every test image (as "
            "evaluate.evaluate); noc85, noc90, iou_at_1click only for the base and the final round, on nocIds",
            "cpuSeconds": "process CPU time over all threads (time.process_time)",
        },
        "baseline": baseline,
        "runs": runs,
        "seconds": round(time.monotonic() - started, 1),
    }


def run_round(start: Model, pool: Sequence[LabelledImage], test: Sequence[LabelledImage],
              noc_items: Sequence[LabelledImage], picks: Sequence[int], labelled: Sequence[int], round_number: int,
              seed: int, config: SimulationConfig, device: torch.device,
              watch: Optional[Stopwatch]) -> Tuple[Model, RoundRecord]:
    """Labels the picks (their ground truth), fine-tunes start on everything labelled and measures."""
    watch = watch or Stopwatch()
    everything = [pool[i] for i in list(labelled) + list(picks)]
    trained = watch.measure("finetune", lambda: train_round(start, everything, config,
                                                            seed * ROUND_SEED_STRIDE + round_number, device))
    new, training = trained  # type: ignore[misc]
    final = round_number == config.rounds
    metrics = watch.measure("evaluation", lambda: measure(new, test, noc_items, device, config.max_clicks, final))
    times = watch.to_json()
    return new, RoundRecord(round=round_number, labelled=len(everything), picked=[pool[i].image_id for i in picks],
                            metrics=metrics, training=training,  # type: ignore[arg-type]
                            cpu_seconds=times["cpuSeconds"], wall_seconds=times["wallSeconds"])


def proposals_of_checkpoint(checkpoint: Path, log: Log) -> ProposalOptions:
    """The base version's own thresholds, from the card.json beside its checkpoint (as a job
    reads its base card); the trainer's defaults when there is none."""
    return base_proposal_options(card_beside(checkpoint), log)


# The synthetic stand-in for real folders: fluorescence-like images v0 already knows, so its
# curves say that the loop runs, not how much a strategy saves on a new domain.
SYNTHETIC_SEED = 20261129


def write_synthetic_folders(root: Path, pool_images: int, test_images: int, size: int = 256,
                            seed: int = SYNTHETIC_SEED) -> Tuple[Path, Path]:
    """root/pool and root/test in the images/ + labels/ layout, from synth.py (fixed seed)."""
    rng = np.random.default_rng(seed)
    folders = []
    for name, count in (("pool", pool_images), ("test", test_images)):
        folder = root / name
        for sub in ("images", "labels"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            # One channel: a second one would be read back as a PNG's alpha.
            sample = generate_image(rng, size, size, 1, 8 if rng.random() < 0.5 else 16)
            write_png(folder / "images" / f"{name}-{index:03d}.png", sample.image[0])
            write_png(folder / "labels" / f"{name}-{index:03d}.png", sample.labels.astype(np.uint16))
        folders.append(folder)
    return folders[0], folders[1]


# The repository's v0, whatever the working directory.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "models" / "v0" / "checkpoint.pt"
SYNTHETIC_POOL_IMAGES = 40
SYNTHETIC_TEST_IMAGES = 16


def add_al_sim_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The `al-sim` subcommand's arguments (__main__ dispatches to run_al_sim_command)."""
    sim = commands.add_parser("al-sim", help="simulated annotator: active-learning curves per strategy (JSON)")
    sim.add_argument("--pool", type=Path, default=None, help="images/ + labels/ folder the strategies pick from")
    sim.add_argument("--test", type=Path, default=None, help="images/ + labels/ folder each round is measured on")
    sim.add_argument("--synthetic", type=Path, default=None,
                     help=f"instead of --pool/--test: write a synthetic pool ({SYNTHETIC_POOL_IMAGES} images) and "
                     f"test ({SYNTHETIC_TEST_IMAGES}) into this folder and use them")
    sim.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="base version (default: v0)")
    sim.add_argument("--strategies", default=",".join(STRATEGY_NAMES), help="comma-separated (default: all)")
    sim.add_argument("--seeds", type=int, default=SimulationConfig.seeds)
    sim.add_argument("--rounds", type=int, default=SimulationConfig.rounds)
    sim.add_argument("--per-round", type=int, default=SimulationConfig.per_round, help="images labelled per round (K)")
    sim.add_argument("--steps", type=int, default=SimulationConfig.steps, help="fine-tune steps per round")
    sim.add_argument("--noc-images", type=int, default=SimulationConfig.noc_images,
                     help="test images (first in id order) with NoC@85 in the final round")
    sim.add_argument("--warm-start", action="store_true",
                     help="fine-tune the previous round's weights (as the app's next job would), not the base")
    sim.add_argument("--out", type=Path, required=True, help="the report (JSON)")


def run_al_sim_command(args: argparse.Namespace, device: torch.device) -> int:
    if not args.threads and device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    if args.synthetic is not None:
        if args.pool or args.test:
            raise SystemExit("al-sim: --synthetic replaces --pool and --test")
        args.pool, args.test = write_synthetic_folders(args.synthetic, SYNTHETIC_POOL_IMAGES, SYNTHETIC_TEST_IMAGES)
    elif args.pool is None or args.test is None:
        raise SystemExit("al-sim: give --pool and --test, or --synthetic")
    config = SimulationConfig(pool=args.pool, test=args.test, checkpoint=args.checkpoint,
                              strategies=tuple(s for s in args.strategies.split(",") if s), seeds=args.seeds,
                              rounds=args.rounds, per_round=args.per_round, steps=args.steps,
                              noc_images=args.noc_images, warm_start=args.warm_start)
    try:
        config.check()
    except ValueError as error:
        raise SystemExit(f"al-sim: {error}") from error
    report = simulate(config, device, log=lambda event: print(json.dumps(event), flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({"event": "written", "out": str(args.out), "seconds": report["seconds"]}), flush=True)
    return 0
