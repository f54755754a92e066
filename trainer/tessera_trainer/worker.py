"""`python -m tessera_trainer work`: the worker loop. Leases training jobs from a Tessera server
(long poll), runs each attempt (training_job.py) and logs one JSON line per event on stdout.
SIGTERM or SIGINT during a job fails the attempt with retry (the next attempt resumes from the
last checkpoint); while waiting, the worker just exits. Never reads the environment itself:
the command line hands it the token.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import torch

from .finetune import FinetuneOptions
from .heartbeat import JobStatus
from .remote import BlobCache, ServerError, ServerUnreachable, WorkerClient
from .training_job import TrainingJob

Emit = Callable[[Dict[str, object]], None]


@dataclass
class WorkerOptions:
    server: str
    token: str
    device: torch.device
    name: str
    cache: Path
    wait_seconds: float = 20.0
    once: bool = False
    # How often a running job uploads a resume checkpoint.
    checkpoint_seconds: float = FinetuneOptions.checkpoint_every_seconds


class Shutdown(Exception):
    """A signal arrived while no job was running."""


def print_event(event: Dict[str, object]) -> None:
    line = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **event}
    print(json.dumps(line, default=str), flush=True)


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"[:100]
    return f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"[:100]


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker:
    def __init__(self, options: WorkerOptions, client: Optional[WorkerClient] = None, emit: Emit = print_event):
        self.options = options
        self.client = client or WorkerClient(options.server, options.token)
        self.cache = BlobCache(options.cache)
        self.emit = emit
        self.status: Optional[JobStatus] = None
        self.stopping = False

    def on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        self.emit({"event": "signal", "signal": signal.Signals(signum).name})
        if self.status is not None:
            self.status.request_stop("shutdown")
        else:
            raise Shutdown()

    def info(self) -> Dict[str, str]:
        return {"name": self.options.name[:200], "device": device_description(self.options.device),
                "host": socket.gethostname()[:200]}

    def serve(self) -> int:
        """Exit status: 0 when stopped (or, with once, after a completed job), 1 after a failed
        job with once, 2 when the server refuses the worker (token, URL)."""
        self.emit({"event": "worker", "server": self.options.server, **self.info(), "cache": str(self.options.cache),
                   "once": self.options.once})
        pause = 5.0
        try:
            while not self.stopping:
                try:
                    job = self.client.lease(self.options.wait_seconds, self.info())
                except ServerUnreachable as error:
                    self.emit({"event": "server-unreachable", "error": str(error), "retryInSeconds": pause})
                    time.sleep(pause)
                    pause = min(60.0, pause * 2)
                    continue
                except ServerError as error:
                    self.emit({"event": "refused", "status": error.status, "error": str(error)})
                    return 2
                pause = 5.0
                if job is None:
                    continue
                self.status = JobStatus(total_steps=job.config.max_steps)
                try:
                    outcome = TrainingJob(self.client, self.cache, job, self.options.device, self.status, self.emit,
                                          checkpoint_seconds=self.options.checkpoint_seconds).run()
                finally:
                    self.status = None
                self.emit({"event": "job-ended", "job": job.id, "state": outcome.state, "error": outcome.error})
                if self.options.once or outcome.state == "stopped":
                    return 0 if outcome.state == "succeeded" or outcome.state == "stopped" else 1
        except Shutdown:
            pass
        self.emit({"event": "worker-stopped"})
        return 0


def run_worker(options: WorkerOptions) -> int:
    """Installs the signal handlers and serves."""
    worker = Worker(options)
    previous = {sig: signal.signal(sig, worker.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return worker.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def token_from(argument: Optional[str], environment: Dict[str, str]) -> str:
    token = argument or environment.get("TESSERA_WORKER_TOKEN", "")
    if not token:
        raise SystemExit("work: give --token or set TESSERA_WORKER_TOKEN")
    return token
