"""The worker protocol's shapes (shared/schemas/training.ts: LeasedJob, TrainingConfig,
DatasetItem, DatasetPage, PoolItem, PoolPage, HeartbeatResponse, JobProgress) as typed dataclasses,
parsed and checked at the edge so that the rest of the worker trusts them. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

PHASES = ("download", "train", "evaluate", "export", "score", "upload")
ARTIFACT_NAMES = ("encoder", "decoder", "card", "checkpoint", "parity", "scores")
# activeLearning.ts Strategy (strategies.py implements them).
STRATEGIES = ("random", "entropy", "boundary", "tta", "diverse")


class ProtocolError(ValueError):
    """A reply that does not have the shape training.ts gives it."""


def _field(values: Mapping[str, Any], key: str, kind: type, where: str, optional: bool = False) -> Any:
    if key not in values or values[key] is None:
        if optional:
            return None
        raise ProtocolError(f"{where}: missing {key}")
    value = values[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"{where}: {key} should be {kind.__name__}, got {type(value).__name__}")
    return value


def _default(value: Any, default: Any) -> Any:
    """training.ts gives these fields defaults; a server that leaves one out means that."""
    return default if value is None else value


@dataclass(frozen=True)
class BlobRef:
    """A file the server serves (URL relative to the server) and its sha256."""

    url: str
    sha256: str
    bytes: Optional[int] = None

    @staticmethod
    def parse(values: Any, where: str) -> "BlobRef":
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        return BlobRef(
            url=_field(values, "url", str, where),
            sha256=_field(values, "sha256", str, where).lower(),
            bytes=_field(values, "bytes", int, where, optional=True),
        )


@dataclass(frozen=True)
class TrainingConfig:
    """A job's budget and recipe (every field has a server default)."""

    minutes: float
    max_steps: int
    batch_size: int = 8
    crop_size: int = 128
    learning_rate: float = 1e-3
    validation_fraction: float = 0.2
    seed: int = 0

    @staticmethod
    def parse(values: Any) -> "TrainingConfig":
        where = "config"
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        config = TrainingConfig(
            minutes=_field(values, "minutes", float, where),
            max_steps=_field(values, "maxSteps", int, where),
            batch_size=_default(_field(values, "batchSize", int, where, optional=True), 8),
            crop_size=_default(_field(values, "cropSize", int, where, optional=True), 128),
            learning_rate=_default(_field(values, "learningRate", float, where, optional=True), 1e-3),
            validation_fraction=_default(_field(values, "validationFraction", float, where, optional=True), 0.2),
            seed=_default(_field(values, "seed", int, where, optional=True), 0),
        )
        if config.minutes <= 0 or config.max_steps <= 0 or config.batch_size <= 0 or config.crop_size < 32:
            raise ProtocolError(f"{where}: out of range {values}")
        if not 0 <= config.validation_fraction <= 0.5:
            raise ProtocolError(f"{where}: validationFraction {config.validation_fraction} is outside [0, 0.5]")
        return config

    def to_json(self) -> Dict[str, object]:
        return {
            "minutes": self.minutes,
            "maxSteps": self.max_steps,
            "batchSize": self.batch_size,
            "cropSize": self.crop_size,
            "learningRate": self.learning_rate,
            "validationFraction": self.validation_fraction,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class BaseVersion:
    id: int
    name: str
    card: Dict[str, Any]
    checkpoint: BlobRef


@dataclass(frozen=True)
class Scoring:
    """How to rank the pool. The name is kept as sent, even one this trainer does not know (a
    newer server's): the job decides what to do with it rather than refusing the lease."""

    strategy: str

    @staticmethod
    def parse(values: Any) -> "Scoring":
        if not isinstance(values, Mapping):
            raise ProtocolError("job.scoring: expected an object")
        return Scoring(strategy=_field(values, "strategy", str, "job.scoring"))


@dataclass(frozen=True)
class LeasedJob:
    """Everything a worker needs for one attempt of a training job."""

    id: int
    project_id: int
    attempt: int
    lease_seconds: float
    heartbeat_seconds: float
    config: TrainingConfig
    base: BaseVersion
    dataset: str
    resume: Optional[BlobRef]
    result_name: str
    # Active learning: the first PoolPage's URL and the strategy (both null: nothing to score).
    pool: Optional[str] = None
    scoring: Optional[Scoring] = None

    @staticmethod
    def parse(values: Any) -> "LeasedJob":
        where = "job"
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        base = values.get("base")
        if not isinstance(base, Mapping) or not isinstance(base.get("card"), Mapping):
            raise ProtocolError(f"{where}: base should be an object with a card")
        job = LeasedJob(
            id=_field(values, "id", int, where),
            project_id=_field(values, "projectId", int, where),
            attempt=_field(values, "attempt", int, where),
            lease_seconds=_field(values, "leaseSeconds", float, where),
            heartbeat_seconds=_field(values, "heartbeatSeconds", float, where),
            config=TrainingConfig.parse(values.get("config")),
            base=BaseVersion(
                id=_field(base, "id", int, "job.base"),
                name=_field(base, "name", str, "job.base"),
                card=dict(base["card"]),
                checkpoint=BlobRef.parse(base.get("checkpoint"), "job.base.checkpoint"),
            ),
            dataset=_field(values, "dataset", str, where),
            resume=BlobRef.parse(values["resume"], "job.resume") if values.get("resume") is not None else None,
            result_name=_field(values, "resultName", str, where),
            pool=_field(values, "pool", str, where, optional=True),
            scoring=Scoring.parse(values["scoring"]) if values.get("scoring") is not None else None,
        )
        if job.attempt < 1 or job.heartbeat_seconds <= 0 or job.lease_seconds <= 0:
            raise ProtocolError(f"{where}: attempt, leaseSeconds and heartbeatSeconds must be positive")
        return job


@dataclass(frozen=True)
class DatasetItem:
    """One image of a frozen training set."""

    image_id: int
    name: str
    width: int
    height: int
    channels: int
    dtype: str
    samples: BlobRef
    labels: BlobRef
    instances: List[Dict[str, int]]
    document_hash: str

    @staticmethod
    def parse(values: Any) -> "DatasetItem":
        where = "dataset item"
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        item = DatasetItem(
            image_id=_field(values, "imageId", int, where),
            name=_field(values, "name", str, where),
            width=_field(values, "width", int, where),
            height=_field(values, "height", int, where),
            channels=_field(values, "channels", int, where),
            dtype=_field(values, "dtype", str, where),
            samples=BlobRef.parse(values.get("samples"), f"{where}.samples"),
            labels=BlobRef.parse(values.get("labels"), f"{where}.labels"),
            instances=list(_field(values, "instances", list, where)),
            document_hash=_field(values, "documentHash", str, where, optional=True) or "",
        )
        return item


@dataclass(frozen=True)
class DatasetPage:
    items: List[DatasetItem]
    total: int
    next: Optional[str]
    classes: List[Dict[str, Any]]

    @staticmethod
    def parse(values: Any) -> "DatasetPage":
        where = "dataset page"
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        return DatasetPage(
            items=[DatasetItem.parse(item) for item in _field(values, "items", list, where)],
            total=_field(values, "total", int, where),
            next=_field(values, "next", str, where, optional=True),
            classes=list(_field(values, "classes", list, where, optional=True) or []),
        )


@dataclass(frozen=True)
class PoolItem:
    """One image to score: its raw samples as stored, like a DatasetItem without labels."""

    image_id: int
    name: str
    width: int
    height: int
    channels: int
    dtype: str
    samples: BlobRef

    @staticmethod
    def parse(values: Any) -> "PoolItem":
        where = "pool item"
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        return PoolItem(
            image_id=_field(values, "imageId", int, where),
            name=_field(values, "name", str, where),
            width=_field(values, "width", int, where),
            height=_field(values, "height", int, where),
            channels=_field(values, "channels", int, where),
            dtype=_field(values, "dtype", str, where),
            samples=BlobRef.parse(values.get("samples"), f"{where}.samples"),
        )


@dataclass(frozen=True)
class PoolPage:
    items: List[PoolItem]
    total: int
    next: Optional[str]

    @staticmethod
    def parse(values: Any) -> "PoolPage":
        where = "pool page"
        if not isinstance(values, Mapping):
            raise ProtocolError(f"{where}: expected an object")
        return PoolPage(
            items=[PoolItem.parse(item) for item in _field(values, "items", list, where)],
            total=_field(values, "total", int, where),
            next=_field(values, "next", str, where, optional=True),
        )


@dataclass
class JobProgress:
    phase: str
    step: int = 0
    total_steps: int = 0
    loss: Optional[float] = None
    validation: Optional[Dict[str, float]] = None
    eta_seconds: Optional[float] = None

    def to_json(self) -> Dict[str, object]:
        return {
            "phase": self.phase,
            "step": int(self.step),
            "totalSteps": int(max(self.total_steps, 0)),
            "loss": self.loss,
            "validation": self.validation,
            "etaSeconds": None if self.eta_seconds is None else max(0.0, round(self.eta_seconds, 1)),
        }


@dataclass(frozen=True)
class HeartbeatReply:
    cancel: bool
    lease_seconds: float

    @staticmethod
    def parse(values: Any) -> "HeartbeatReply":
        if not isinstance(values, Mapping):
            raise ProtocolError("heartbeat reply: expected an object")
        return HeartbeatReply(cancel=bool(values.get("cancel", False)), lease_seconds=float(values.get("leaseSeconds") or 0))
