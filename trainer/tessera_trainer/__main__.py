"""Command line: python -m tessera_trainer {pretrain,export,evaluate,work,al-sim} (see trainer/README.md).
Parses arguments, chooses the device once and hands typed options to the modules."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import torch

from .al_sim import add_al_sim_command, run_al_sim_command
from .card import build_card, card_polarity
from .data import load_labelled_folder
from .evaluate import evaluate
from .export import export_onnx, file_info, write_parity_fixture
from .finetune import FinetuneOptions
from .model import ModelConfig, network_costs
from .pretrain import (CARD_FILE, CHECKPOINT_FILE, PretrainOptions, card_beside, choose_device, load_checkpoint,
                       pretrain)
from .remote import default_cache_dir
from .train import TrainConfig
from .worker import WorkerOptions, default_worker_name, run_worker, token_from


def _widths(text: str) -> tuple:
    values = tuple(int(v) for v in text.split(","))
    if len(values) != 4 or min(values) < 1:
        raise argparse.ArgumentTypeError("four positive integers, e.g. 16,32,64,96")
    return values


def _chosen_proposals(previous: Optional[dict]) -> Optional[dict]:
    """A card's tuned proposal thresholds (and how they were chosen), kept by a re-export."""
    keys = ("foregroundThreshold", "seedThreshold", "minSeedArea", "minArea", "tuning")
    if not previous or not all(key in previous for key in keys[:4]):
        return None
    return {key: previous[key] for key in keys if key in previous}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tessera_trainer")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    commands = parser.add_subparsers(dest="command", required=True)

    pre = commands.add_parser("pretrain", help="train a model version from scratch and export it")
    pre.add_argument("--out", type=Path, required=True, help="output folder, e.g. models/v0")
    pre.add_argument("--real", type=Path, action="append", default=[], help="images/ + labels/ folder (repeatable)")
    pre.add_argument("--steps", type=int, default=None)
    pre.add_argument("--minutes", type=float, default=None, help="wall-clock training budget")
    pre.add_argument("--version", default=None, help="version name (default: the output folder's name)")
    pre.add_argument("--parent", default=None, help="parent version, if any")
    pre.add_argument("--batch-size", type=int, default=8)
    pre.add_argument("--crop-size", type=int, default=128)
    pre.add_argument("--learning-rate", type=float, default=2e-3)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--synthetic-eval-images", type=int, default=8)
    pre.add_argument("--eval-max-clicks", type=int, default=20)
    pre.add_argument("--init", type=Path, default=None, help="start from this checkpoint's weights (fine-tune)")
    pre.add_argument("--real-fraction", type=float, default=0.6, help="share of each batch drawn from --real folders")
    pre.add_argument("--max-prior-rounds", type=int, default=3, help="most simulated click rounds before the one trained on")
    pre.add_argument("--freeze-encoder", action="store_true", help="train the click decoder only (needs --init)")
    default = ModelConfig()
    pre.add_argument("--widths", type=_widths, default=default.widths, help="encoder widths at 1/2..1/16, e.g. 16,32,64,96")
    pre.add_argument("--feature-channels", type=int, default=default.feature_channels, help="channels of the features at 1/4")

    exp = commands.add_parser("export", help="export ONNX files, parity fixture and card from a checkpoint")
    exp.add_argument("--checkpoint", type=Path, required=True)
    exp.add_argument("--out", type=Path, required=True)

    ev = commands.add_parser("evaluate", help="held-out metrics of a checkpoint on a labelled folder")
    ev.add_argument("--checkpoint", type=Path, required=True)
    ev.add_argument("--data", type=Path, required=True)
    ev.add_argument("--all", action="store_true", help="every image, not only the held-out part")
    ev.add_argument("--max-clicks", type=int, default=20)

    work = commands.add_parser("work", help="lease and run training jobs from a Tessera server")
    work.add_argument("--server", required=True, help="the server's URL, e.g. http://localhost:3000")
    work.add_argument("--token", default=None, help="worker token (default: $TESSERA_WORKER_TOKEN)")
    # Also accepted after the command; SUPPRESS keeps the global --device when it is not given here.
    work.add_argument("--device", choices=["auto", "cpu", "cuda"], default=argparse.SUPPRESS)
    work.add_argument("--once", action="store_true", help="wait for one job, run it and exit")
    work.add_argument("--name", default=None, help="worker name shown in the app (default: host-pid)")
    work.add_argument("--cache", type=Path, default=None, help="download cache (default: ~/.cache/tessera-worker)")
    work.add_argument("--wait", type=float, default=20.0, help="long-poll seconds per lease request (at most 60)")
    work.add_argument("--checkpoint-seconds", type=float, default=FinetuneOptions.checkpoint_every_seconds,
                      help="upload a resume checkpoint this often while training (default: %(default)s)")
    add_al_sim_command(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = choose_device(args.device)
    if args.command == "work":
        if not args.threads and device.type == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        if not 0 <= args.wait <= 60:
            raise SystemExit("work: --wait is between 0 and 60 seconds")
        if args.checkpoint_seconds <= 0:
            raise SystemExit("work: --checkpoint-seconds is positive")
        options = WorkerOptions(
            server=args.server,
            token=token_from(args.token, dict(os.environ)),
            device=device,
            name=args.name or default_worker_name(),
            cache=args.cache or default_cache_dir(),
            wait_seconds=args.wait,
            once=args.once,
            checkpoint_seconds=args.checkpoint_seconds,
        )
        return run_worker(options)
    if args.command == "al-sim":
        return run_al_sim_command(args, device)
    if args.command == "pretrain":
        if args.steps is None and args.minutes is None:
            raise SystemExit("pretrain: give --steps or --minutes")
        if args.freeze_encoder and args.init is None:
            raise SystemExit("pretrain: --freeze-encoder needs --init (an encoder to keep)")
        command = "python -m tessera_trainer " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        options = PretrainOptions(
            out=args.out,
            real=args.real,
            version=args.version or args.out.name,
            parent_version=args.parent,
            train=TrainConfig(
                steps=args.steps,
                minutes=args.minutes,
                batch_size=args.batch_size,
                crop_size=args.crop_size,
                learning_rate=args.learning_rate,
                max_prior_rounds=args.max_prior_rounds,
                freeze_encoder=args.freeze_encoder,
            ),
            model=ModelConfig(widths=args.widths, feature_channels=args.feature_channels),
            seed=args.seed,
            synthetic_eval_images=args.synthetic_eval_images,
            eval_max_clicks=args.eval_max_clicks,
            init=args.init,
            real_fraction=args.real_fraction,
            command=command,
        )
        pretrain(options, device, log=lambda line: print(line, flush=True))
        return 0
    encoder, decoder, config, version = load_checkpoint(args.checkpoint, device)
    if args.command == "export":
        files = export_onnx(encoder, decoder, args.out)
        files["parity"] = write_parity_fixture(encoder, decoder, args.out)
        card_path = args.out / CARD_FILE
        previous = json.loads(card_path.read_text()) if card_path.exists() else {}
        if (args.out / CHECKPOINT_FILE).exists():
            files["checkpoint"] = file_info(args.out / CHECKPOINT_FILE)
        card = build_card(
            previous.get("version", version or args.out.name),
            previous.get("parentVersion"),
            config,
            network_costs(encoder.cpu(), decoder.cpu()),
            files,
            previous.get("training", {}),
            previous.get("metrics", {}),
            proposals=_chosen_proposals(previous.get("proposals")),
            polarity=card_polarity(previous),
        )
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(json.dumps({"event": "exported", "out": str(args.out)}))
        return 0
    # A version's card beside its checkpoint says which way it reads images (input.polarity).
    items = load_labelled_folder(args.data, config.in_channels, held_out=None if args.all else True,
                                 polarity=card_polarity(card_beside(args.checkpoint)))
    print(json.dumps(evaluate(encoder, decoder, items, device, args.max_clicks), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
