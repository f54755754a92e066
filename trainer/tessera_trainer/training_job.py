"""One attempt of a leased training job, phase by phase: download (base checkpoint, training set,
resume state), train (fine-tune from the base weights), evaluate (proposal thresholds, then the
new and the base model on the same validation images), export, score (active learning: when the
job has a pool, the new encoder ranks the project's unfinished images by the job's strategy into
scores.json), upload; then complete, or fail with the reason. Stops without completing when the
lease is lost. Writes only to the blob cache and a temporary folder that it removes.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .card import build_card, card_polarity
from .data import LabelledImage, median_object_contrast, polarity_for
from .evaluate import evaluate
from .export import DECODER_FILE, ENCODER_FILE, PARITY_FILE, export_onnx, file_info, write_parity_fixture
from .finetune import (
    VALIDATION_SALT,
    FinetuneCallbacks,
    FinetuneOptions,
    FinetuneProgress,
    has_training_objects,
    load_resume_state,
    recipe,
    split_validation,
)
from .finetune import finetune as run_finetune
from .heartbeat import CheckpointUploader, Heartbeat, JobStatus, JobStopped
from .model import ImageEncoder, ModelConfig, network_costs
from .pretrain import CARD_FILE, CHECKPOINT_FILE, load_checkpoint, loss_curve, save_checkpoint
from .proposals import DEFAULT_PROPOSAL_OPTIONS, ProposalOptions
from .protocol import LeasedJob
from .remote import (
    BlobCache,
    DatasetError,
    LeaseLost,
    ServerError,
    ServerUnreachable,
    WorkerClient,
    download_dataset,
    pool_image,
    prepare_again,
)
from .scoring import candidate_from_image
from .strategies import STRATEGY_NAMES, Candidate, needs, rank, summarize
from .train import LOSSES
from .tune_proposals import PROPOSAL_GRID, best_proposal_options, encode_heads, proposal_ap50

EVAL_MAX_CLICKS = 20
# Simulated clicks cost a decoder pass each; past this many validation objects a CPU worker
# evaluates with 10 clicks (the card's metrics.maxClicks says which).
EVAL_OBJECTS_BEFORE_FEWER_CLICKS = 1000
EVAL_FEWER_CLICKS = 10
# The threshold search grows the proposals 60 times per image (about 1 s per 360 x 360 image on
# one CPU core); on large sets it takes the first training images, in id order, up to this many
# pixels (about 40 s).
TUNING_MAX_PIXELS = 4_000_000
UPLOADS = (("encoder", ENCODER_FILE), ("decoder", DECODER_FILE), ("parity", PARITY_FILE),
           ("checkpoint", CHECKPOINT_FILE), ("card", CARD_FILE))
SCORES_FILE = "scores.json"
# A pool without a strategy, or with one this trainer does not know, is scored with the
# project default (activeLearning.ts DEFAULT_ACTIVE_LEARNING).
DEFAULT_STRATEGY = "diverse"
# k-centre greedy costs a pass over the pool per pick; past this many picks the rest of the pool
# follows by its gain against them (strategies.rank batch_size).
DIVERSE_GREEDY_PICKS = 5000

Emit = Callable[[Dict[str, object]], None]


@dataclass
class JobOutcome:
    state: str  # succeeded | failed | cancelled | lease-lost | stopped
    version: Optional[Dict[str, object]] = None
    error: Optional[str] = None


def evaluation_clicks(objects: int, device: torch.device) -> int:
    if device.type == "cpu" and objects > EVAL_OBJECTS_BEFORE_FEWER_CLICKS:
        return EVAL_FEWER_CLICKS
    return EVAL_MAX_CLICKS


def tuning_images(items: Sequence[LabelledImage]) -> List[LabelledImage]:
    chosen, pixels = [], 0
    for item in items:
        size = int(item.labels.size)
        if chosen and pixels + size > TUNING_MAX_PIXELS:
            break
        chosen.append(item)
        pixels += size
    return chosen


def base_proposal_options(card: Dict[str, object], say: Emit) -> ProposalOptions:
    try:
        return ProposalOptions.from_card(card["proposals"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as error:
        say({"event": "note", "message": f"the base card has no usable proposals ({error}); its metrics use the trainer's defaults"})
        return DEFAULT_PROPOSAL_OPTIONS


class TrainingJob:
    """Runs one attempt; `status` is shared with the heartbeat thread and the worker's signals."""

    def __init__(self, client: WorkerClient, cache: BlobCache, job: LeasedJob, device: torch.device,
                 status: JobStatus, emit: Emit, checkpoint_seconds: float = FinetuneOptions.checkpoint_every_seconds):
        self.client, self.cache, self.job, self.device, self.status, self.emit = client, cache, job, device, status, emit
        self.checkpoint_seconds = checkpoint_seconds
        self.timings: Dict[str, float] = {}
        self.heartbeat = Heartbeat(client, job, status, emit)
        self.uploader = CheckpointUploader(client, job, status, self.say)

    def say(self, event: Dict[str, object]) -> None:
        """An event of this job: one JSON line on stdout and in the job's log on the server."""
        event = {"job": self.job.id, **event}
        self.emit(event)
        self.status.log(json.dumps({k: v for k, v in event.items() if k != "job"}))

    def _phase(self, name: str) -> float:
        self.status.check()
        self.status.update(phase=name, eta_seconds=None)
        self.say({"event": "phase", "phase": name})
        return time.monotonic()

    def _done(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 2)

    def run(self) -> JobOutcome:
        job = self.job
        self.say({"event": "job", "attempt": job.attempt, "base": job.base.name, "result": job.result_name,
                  "resume": job.resume is not None, "config": job.config.to_json(), "device": str(self.device)})
        self.status.update(total_steps=job.config.max_steps)
        self.heartbeat.beat()
        self.heartbeat.start()
        self.uploader.start()
        try:
            with tempfile.TemporaryDirectory(prefix=f"tessera-job-{job.id}-") as folder:
                return self._run(Path(folder))
        except JobStopped as stop:
            return self._stopped(stop.reason)
        except LeaseLost as error:
            self.say({"event": "lease-lost", "error": str(error)})
            return JobOutcome("lease-lost", error=str(error))
        except DatasetError as error:
            return self._fail(f"data error: {error}", retry=False)
        except Exception as error:  # noqa: BLE001 - every other failure is reported and retried
            for line in traceback.format_exc().splitlines()[-20:]:
                self.status.log(line)
            return self._fail(f"{type(error).__name__}: {error}", retry=True)
        finally:
            self.uploader.close()
            self.heartbeat.stop()

    def _stopped(self, reason: str) -> JobOutcome:
        if reason == "lease-lost":
            self.say({"event": "stopped", "reason": reason})
            return JobOutcome("lease-lost", error=reason)
        if reason == "cancelled":
            self._fail("cancelled", retry=False, quiet=True)
            return JobOutcome("cancelled", error=reason)
        if reason == "shutdown":
            self._fail("the worker was stopped (SIGTERM); another attempt resumes from the last checkpoint", retry=True)
            return JobOutcome("stopped", error=reason)
        return self._fail(reason, retry=True)

    def _fail(self, error: str, retry: bool, quiet: bool = False) -> JobOutcome:
        if not quiet:
            self.say({"event": "failed", "error": error, "retry": retry})
        body = {"attempt": self.job.attempt, "error": error[:10_000], "log": list(self.status.tail), "retry": retry}
        try:
            self.client.fail(self.job.id, body)
        except (ServerError, ServerUnreachable) as problem:
            # Refused (the lease is gone) or unreachable: the lease's expiry settles the attempt.
            self.emit({"event": "fail-not-delivered", "job": self.job.id, "error": str(problem)})
        return JobOutcome("cancelled" if error == "cancelled" else "failed", error=error)

    def _run(self, out: Path) -> JobOutcome:
        job, device, status = self.job, self.device, self.status

        started = self._phase("download")
        base_path, _ = self.cache.fetch(self.client, job.base.checkpoint)
        encoder, decoder, model_config, _ = load_checkpoint(base_path, device)
        base_polarity = card_polarity(job.base.card)
        dataset = download_dataset(self.client, self.cache, job.dataset, model_config.in_channels,
                                   f"project-{job.project_id}", log=self.say, before_item=status.check,
                                   polarity=base_polarity)
        resume = None
        if job.resume is not None:
            resume_path, _ = self.cache.fetch(self.client, job.resume)
            resume = load_resume_state(resume_path.read_bytes())
            if ModelConfig.from_dict(resume["model"]) != model_config:  # type: ignore[arg-type]
                self.say({"event": "note", "message": "the resume checkpoint has another architecture; starting from the base"})
                resume = None
            else:
                status.update(step=int(resume["step"]))  # type: ignore[arg-type]
        self.say({"event": "downloaded", "images": len(dataset.items), "bytes": dataset.downloaded_bytes,
                  "cachedFiles": dataset.cached_files})
        self._done("download", started)

        ids = [str(item.image_id) for item in dataset.items]
        train_ids, validation_ids = split_validation(ids, job.config.validation_fraction)
        if resume is not None and isinstance(resume["extra"].get("validationIds"), list):  # type: ignore[union-attr]
            validation_ids = [str(i) for i in resume["extra"]["validationIds"]]  # type: ignore[index]
            train_ids = [i for i in ids if i not in set(validation_ids)]
        by_id = {image.image_id: image for image in dataset.images}
        # The base's view of the validation images, for its metrics beside the new version's.
        base_validation_items = [by_id[i] for i in validation_ids] or [by_id[i] for i in train_ids]
        # Which way the new version reads images: objects brighter than background on the
        # training images, as pretraining saw them (stained tissue, brightfield: inverted).
        contrast = median_object_contrast([by_id[i] for i in train_ids])
        polarity = polarity_for(contrast, base_polarity)
        if polarity != base_polarity:
            # Every file is in the cache by now: this only decodes and normalises again.
            images = prepare_again(self.client, self.cache, dataset.items, model_config.in_channels,
                                   f"project-{job.project_id}", polarity, before_item=status.check)
            by_id = {image.image_id: image for image in images}
        polarity_note = {"chosen": polarity, "base": base_polarity,
                         "medianObjectContrast": None if contrast is None else round(contrast, 4)}
        self.say({"event": "polarity", **polarity_note})
        train_items = [by_id[i] for i in train_ids]
        validation_items = [by_id[i] for i in validation_ids]
        on_training_image = not validation_items
        if on_training_image:
            validation_items = train_items
            self.say({"event": "note", "message": "one image only: it trains and it validates, so the metrics are not a held-out test"})
        if not any(has_training_objects(item) for item in train_items):
            raise DatasetError("no training image has an object of at least 8 pixels")
        self.say({"event": "split", "training": len(train_items), "validation": [int(i) for i in validation_ids]})

        started = self._phase("train")
        train_config = recipe(job.config.minutes, job.config.max_steps, job.config.batch_size, job.config.crop_size,
                              job.config.learning_rate)

        def on_step(progress: FinetuneProgress) -> None:
            status.update(step=progress.step, total_steps=progress.total_steps, loss=progress.loss,
                          eta_seconds=progress.eta_seconds,
                          validation=None if progress.validation_loss is None else {"loss": progress.validation_loss})

        result = run_finetune(
            encoder, decoder, model_config, train_items, validation_items,
            FinetuneOptions(train=train_config, seed=job.config.seed, checkpoint_every_seconds=self.checkpoint_seconds), device,
            FinetuneCallbacks(should_stop=status.stop_reason, on_step=on_step, on_point=status.add_point,
                              on_checkpoint=self.uploader.submit, log=self.say),
            resume=resume, extra={"jobId": job.id, "attempt": job.attempt, "validationIds": [int(i) for i in validation_ids]},
        )
        if result.stopped:
            if result.stopped == "shutdown":
                self.uploader.submit(result.state, result.steps)  # so the next attempt resumes from here
                self.uploader.flush(timeout=20)
            raise JobStopped(result.stopped)
        self.uploader.flush()
        self._done("train", started)

        started = self._phase("evaluate")
        tuning = tuning_images(train_items)
        tuned, tuned_ap50 = best_proposal_options(encode_heads(encoder, tuning, device))
        validation_heads = encode_heads(encoder, validation_items, device)
        base_options = base_proposal_options(job.base.card, self.say)
        objects = int(sum(len(item.objects) for item in validation_items))
        max_clicks = evaluation_clicks(objects, device)
        validation = evaluate(encoder, decoder, validation_items, device, max_clicks, tuned, before_image=status.check)
        base_encoder, base_decoder, _, _ = load_checkpoint(base_path, device)
        base_validation = evaluate(base_encoder, base_decoder, base_validation_items, device, max_clicks, base_options,
                                   before_image=status.check)
        del base_encoder, base_decoder
        # The chart's validation loss stays under "loss" (the app shows that key) beside the metrics.
        loss = {} if result.validation_loss is None else {"loss": result.validation_loss}
        status.update(validation={**loss, **{k: float(v) for k, v in validation.items()}})
        self.say({"event": "evaluate", "maxClicks": max_clicks, "validation": validation, "baseValidation": base_validation,
                  "proposals": tuned.to_card()})
        self._done("evaluate", started)

        started = self._phase("export")
        files = export_onnx(encoder, decoder, out)
        files["parity"] = write_parity_fixture(encoder, decoder, out)
        save_checkpoint(out / CHECKPOINT_FILE, encoder, decoder, model_config, job.result_name)
        files["checkpoint"] = file_info(out / CHECKPOINT_FILE)
        status.check()
        proposals = {
            **tuned.to_card(),
            "tuning": {
                "method": "grid search maximising mean AP50 (per image TP / (TP + FP + FN) at IoU 0.5) on the job's "
                "training images, as server/src/models/tuneProposals.ts; the validation images stay a fair test",
                "grid": PROPOSAL_GRID,
                "images": len(tuning),
                "trainingAp50": tuned_ap50,
                "validationAp50": proposal_ap50(validation_heads, tuned),
                "validationAp50WithBaseThresholds": proposal_ap50(validation_heads, base_options),
            },
        }
        metrics = {
            "validation": validation,
            "baseValidation": base_validation,
            "maxClicks": max_clicks,
            "protocol": "RITM simulated clicks, 256 x 256 crop around each object; IoU thresholds 0.85 / 0.90; "
            "proposals with each version's own thresholds",
            "validationIds": [int(i) for i in validation_ids],
            "validatedOnTrainingImage": on_training_image,
        }
        training = self._training_section(dataset.images, train_ids, validation_ids, on_training_image, train_config,
                                          result, model_config)
        training["polarity"] = {
            **polarity_note,
            "rule": "the base's polarity unless the median over the training images of (mean model input inside "
            "the labelled objects - mean outside) on the first channel is negative; then the other one",
        }
        costs = network_costs(encoder.cpu(), decoder.cpu())
        card = build_card(job.result_name, job.base.name, model_config, costs, files, training, metrics, proposals=proposals,
                          polarity=polarity)
        (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        self._done("export", started)

        uploads = UPLOADS
        if job.pool is not None:
            started = self._phase("score")
            (out / SCORES_FILE).write_text(json.dumps(self._score(encoder, tuned, polarity)) + "\n")
            uploads = UPLOADS + (("scores", SCORES_FILE),)
            self._done("score", started)

        started = self._phase("upload")
        for name, filename in uploads:
            status.check()
            data = (out / filename).read_bytes()
            reply = self.client.put_file(job.id, job.attempt, name, data)
            digest = hashlib.sha256(data).hexdigest()
            if reply.get("sha256") not in (None, digest):
                raise RuntimeError(f"upload of {name}: the server stored sha256 {reply.get('sha256')}, not {digest}")
            self.say({"event": "uploaded", "file": name, "bytes": len(data)})
        self._done("upload", started)

        status.check()
        self.heartbeat.beat()  # the last chart points and log lines
        status.check()
        body = {"attempt": job.attempt, "metrics": {"validation": validation, "baseValidation": base_validation},
                "timings": self.timings, "log": list(status.tail)}
        reply = self._complete(body)
        self.say({"event": "completed", "version": reply.get("version"), "promoted": reply.get("promoted"),
                  "timings": self.timings})
        return JobOutcome("succeeded", version=reply.get("version"))  # type: ignore[arg-type]

    def _strategy(self) -> str:
        scoring = self.job.scoring
        if scoring is not None and scoring.strategy in STRATEGY_NAMES:
            return scoring.strategy
        given = "no strategy" if scoring is None else f"the strategy {scoring.strategy!r}, which this trainer does not know"
        self.say({"event": "note", "message": f"the job has a pool but {given}; scoring with {DEFAULT_STRATEGY!r}"})
        return DEFAULT_STRATEGY

    def _score(self, encoder: ImageEncoder, proposals: ProposalOptions, polarity: str) -> Dict[str, object]:
        """Every pool image once, scored by the new encoder (tiled as the browser does), ranked
        by the job's strategy: the ScoresFile (training.ts). A pool image whose bytes do not match
        its description is ranked last with score 0 rather than failing the version."""
        job, status = self.job, self.status
        assert job.pool is not None
        strategy = self._strategy()
        wanted = needs(strategy)
        encoder.to(self.device).eval()
        started = time.monotonic()
        candidates: List[Candidate] = []
        unreadable: List[int] = []
        seen = set()
        downloaded = total = 0
        for page in self.client.pool_pages(job.pool):
            total = max(total, page.total)
            for item in page.items:
                status.check()
                if item.image_id in seen:  # the pool is read live: a page may repeat an image
                    continue
                seen.add(item.image_id)
                if not wanted:  # random reads no pixels
                    candidates.append(summarize(strategy, Candidate(image_id=item.image_id), job.config.seed))
                else:
                    try:
                        image, fresh = pool_image(self.client, self.cache, item, encoder.in_channels, polarity)
                        downloaded += int(fresh)
                        candidate = candidate_from_image(encoder, image, self.device, item.image_id, wanted, proposals)
                        candidates.append(summarize(strategy, candidate, job.config.seed))
                    except DatasetError as error:
                        self.say({"event": "note", "message": f"{error}; ranked last"})
                        unreadable.append(item.image_id)
                done = len(seen)
                status.update(step=done, total_steps=max(total, done),
                              eta_seconds=(time.monotonic() - started) / done * max(0, total - done))
        status.check()
        ranking = rank(strategy, candidates, job.config.seed, DIVERSE_GREEDY_PICKS)
        ranking += [(image_id, 0.0) for image_id in unreadable]
        seconds = round(time.monotonic() - started, 2)
        self.say({"event": "scored", "strategy": strategy, "images": len(ranking), "unreadable": len(unreadable),
                  "downloaded": downloaded, "seconds": seconds, "top": [image_id for image_id, _ in ranking[:10]]})
        return {
            "strategy": strategy,
            "version": job.result_name,
            "items": [{"imageId": image_id, "score": score, "rank": place}
                      for place, (image_id, score) in enumerate(ranking, start=1)],
            "seconds": seconds,
        }

    def _complete(self, body: Dict[str, object]) -> Dict[str, object]:
        """Completion is idempotent per attempt, so an unanswered one is sent again."""
        for tries in range(3):
            try:
                return self.client.complete(self.job.id, body)
            except ServerUnreachable as error:
                if tries == 2:
                    raise
                self.emit({"event": "complete-retry", "job": self.job.id, "error": str(error)})
                time.sleep(10)
        raise AssertionError("unreachable")

    def _training_section(self, items, train_ids, validation_ids, on_training_image, train_config, result, model_config):
        job = self.job
        objects = int(sum(len(item.objects) for item in items))
        return {
            "kind": "fine-tune",
            "jobId": job.id,
            "projectId": job.project_id,
            "attempt": job.attempt,
            "baseVersion": job.base.name,
            "baseVersionId": job.base.id,
            "initialisedFrom": f"{job.base.name} checkpoint (sha256 {job.base.checkpoint.sha256})",
            "resumedFrom": result.resumed_from,
            "device": str(self.device),
            "torchThreads": torch.get_num_threads(),
            "seed": job.config.seed,
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            "config": job.config.to_json(),
            "recipe": {**asdict(train_config), "realFraction": FinetuneOptions(train=train_config).real_fraction},
            "data": {
                "images": len(items),
                "objects": objects,
                "trainingImages": len(train_ids),
                "validationIds": [int(i) for i in validation_ids],
                "validatedOnTrainingImage": on_training_image,
                "validationRule": f"validation when int(sha256('{VALIDATION_SALT}' + imageId)[:8], 16) / 2^32 < "
                f"{job.config.validation_fraction}; with two or more images at least one validates and one trains",
                "synthetic": {"generator": "tessera_trainer.synth.random_synthetic_image", "images": result.synthetic_images},
                "channels": f"model channel k = image channel k for k < {model_config.in_channels}; further channels "
                "dropped, missing ones zero; each normalised with the image's own percentiles",
            },
            "losses": LOSSES,
            "lossCurve": loss_curve(result.records),
        }
