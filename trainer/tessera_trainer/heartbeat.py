"""What a running job shares between its threads: progress, chart points and log lines waiting
for the next heartbeat, and the stop flag; the heartbeat thread that renews the lease (so slow
evaluation or export phases keep it) and the thread that uploads resume checkpoints. Neither
thread trains; they set the stop flag when the server says cancel or the lease is lost.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Deque, Dict, List, Optional, Tuple

from .finetune import ChartPoint
from .protocol import JobProgress, LeasedJob
from .remote import LeaseLost, ServerError, ServerUnreachable, WorkerClient

MAX_LINES_PER_HEARTBEAT = 500  # HeartbeatBody.log
MAX_POINTS_PER_HEARTBEAT = 1000  # HeartbeatBody.history
MAX_LINE_LENGTH = 2000
TAIL_LINES = 200  # sent with complete and fail


class JobStopped(Exception):
    """Raised in the job's thread once the stop flag is set: 'cancelled', 'lease-lost',
    'shutdown' or an error of the heartbeat."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class JobStatus:
    """Thread-safe state of one attempt. The first stop reason wins, except that a lost lease
    overrides all: then nothing may be sent for the job any more."""

    def __init__(self, phase: str = "download", total_steps: int = 0):
        self._lock = threading.Lock()
        self.progress = JobProgress(phase=phase, total_steps=total_steps)
        self._points: List[ChartPoint] = []
        self._lines: List[str] = []
        self.tail: Deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._stop: Optional[str] = None
        self.stopped = threading.Event()

    def update(self, **fields: object) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(self.progress, key, value)

    def add_point(self, point: ChartPoint) -> None:
        with self._lock:
            self._points.append(point)

    def log(self, line: str) -> None:
        line = line[:MAX_LINE_LENGTH]
        with self._lock:
            self._lines.append(line)
            self.tail.append(line)

    def take(self) -> Tuple[Dict[str, object], List[ChartPoint], List[str]]:
        """The progress and what waits for the next heartbeat (removed; give_back on failure)."""
        with self._lock:
            points, self._points = self._points[:MAX_POINTS_PER_HEARTBEAT], self._points[MAX_POINTS_PER_HEARTBEAT:]
            lines = self._lines[-MAX_LINES_PER_HEARTBEAT:]
            self._lines = []
            return self.progress.to_json(), points, lines

    def give_back(self, points: List[ChartPoint], lines: List[str]) -> None:
        with self._lock:
            self._points = points + self._points
            self._lines = (lines + self._lines)[-MAX_LINES_PER_HEARTBEAT:]

    def request_stop(self, reason: str) -> None:
        with self._lock:
            if self._stop is None or reason == "lease-lost":
                self._stop = reason
        self.stopped.set()

    def stop_reason(self) -> Optional[str]:
        with self._lock:
            return self._stop

    def check(self) -> None:
        """Raises JobStopped when a stop was requested (called between units of work)."""
        reason = self.stop_reason()
        if reason:
            raise JobStopped(reason)


def history_json(point: ChartPoint) -> Dict[str, object]:
    return {"step": point.step, "seconds": max(0.0, point.seconds), "loss": point.loss, "validationLoss": point.validation_loss}


class Heartbeat(threading.Thread):
    """Sends a heartbeat every heartbeatSeconds until stopped (the job sends the first itself,
    before it starts the thread, so that the job is running on the server before any work)."""

    def __init__(self, client: WorkerClient, job: LeasedJob, status: JobStatus, emit: Callable[[Dict[str, object]], None]):
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.client, self.job, self.status, self.emit = client, job, status, emit
        self._done = threading.Event()
        self._sending = threading.Lock()

    def run(self) -> None:
        while not self._done.wait(self.job.heartbeat_seconds):
            self.beat()

    def beat(self) -> None:
        """One heartbeat (also called from the job's thread to flush before completing)."""
        with self._sending:
            if self.status.stop_reason() == "lease-lost":
                return
            progress, points, lines = self.status.take()
            body = {"attempt": self.job.attempt, "progress": progress, "history": [history_json(p) for p in points], "log": lines}
            try:
                reply = self.client.heartbeat(self.job.id, body)
            except LeaseLost as error:
                self.emit({"event": "lease-lost", "job": self.job.id, "error": str(error)})
                self.status.request_stop("lease-lost")
                return
            except ServerUnreachable as error:
                # The lease outlives a few missed heartbeats; keep what was not delivered.
                self.status.give_back(points, lines)
                self.emit({"event": "heartbeat-failed", "job": self.job.id, "error": str(error)})
                return
            except ServerError as error:
                self.emit({"event": "heartbeat-refused", "job": self.job.id, "error": str(error)})
                self.status.request_stop(f"heartbeat refused: {error}")
                return
            if reply.cancel:
                self.emit({"event": "cancel-requested", "job": self.job.id})
                self.status.request_stop("cancelled")

    def stop(self) -> None:
        self._done.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=60)


class CheckpointUploader(threading.Thread):
    """Uploads resume checkpoints off the training thread; a newer one replaces one still waiting.
    emit receives its events (the job's log)."""

    def __init__(self, client: WorkerClient, job: LeasedJob, status: JobStatus, emit: Callable[[Dict[str, object]], None]):
        super().__init__(name=f"checkpoints-{job.id}", daemon=True)
        self.client, self.job, self.status, self.emit = client, job, status, emit
        self._condition = threading.Condition()
        self._waiting: Optional[Tuple[bytes, int]] = None
        self._busy = False
        self._closed = False
        self.uploaded_step: Optional[int] = None
        self.error: Optional[BaseException] = None

    def submit(self, data: bytes, step: int) -> None:
        with self._condition:
            self._waiting = (data, step)
            self._condition.notify_all()

    def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until nothing is waiting or being uploaded."""
        with self._condition:
            self._condition.wait_for(lambda: self._waiting is None and not self._busy, timeout=timeout)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._waiting = None
            self._condition.notify_all()

    def run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._waiting is not None or self._closed)
                if self._closed:
                    return
                data, step = self._waiting  # type: ignore[misc]
                self._waiting, self._busy = None, True
            try:
                self.client.put_checkpoint(self.job.id, self.job.attempt, data)
                self.uploaded_step = step
                self.emit({"event": "checkpoint", "step": step, "bytes": len(data)})
            except LeaseLost:
                self.status.request_stop("lease-lost")
            except Exception as error:  # noqa: BLE001 - a later checkpoint may get through
                self.error = error
                self.emit({"event": "checkpoint-failed", "step": step, "error": str(error)})
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()
