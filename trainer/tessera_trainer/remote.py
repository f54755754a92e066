"""The worker's side of the HTTP protocol (/api/worker/…, bearer worker token), a disk cache of
downloaded files by sha256, the download of a job's frozen training set as LabelledImages, and
of active learning's pool images as normalised model inputs.
Only urllib; every call has a timeout; transient failures (no connection, 5xx) are retried with
backoff, 4xx never. Never trains and never decides what a job does.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from . import TRAINER_VERSION
from .data import LabelledImage, prepare_image
from .normalization import normalize_with_own_stats
from .protocol import BlobRef, DatasetItem, DatasetPage, HeartbeatReply, LeasedJob, PoolItem, PoolPage
from .samples import SampleFormatError, decode_labels, decode_samples

DEFAULT_TIMEOUT = 30.0
UPLOAD_TIMEOUT = 300.0
CHUNK = 1 << 20


class ServerError(Exception):
    """The server answered with an error status (its JSON {error} is the message)."""

    def __init__(self, status: int, message: str, code: Optional[str] = None):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.code = code


class LeaseLost(ServerError):
    """409 lease-lost: this attempt is no longer the job's lease; stop without completing."""


class ServerUnreachable(Exception):
    """No answer after the retries (connection refused, timeouts, 5xx)."""


class DatasetError(ValueError):
    """The training set itself is unusable (sizes, types, no objects): retrying cannot help."""


def default_cache_dir() -> Path:
    return Path(os.path.expanduser("~")) / ".cache" / "tessera-worker"


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500
    return isinstance(error, (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException))


def _server_error(error: urllib.error.HTTPError) -> ServerError:
    try:
        body = json.loads(error.read().decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError, OSError):
        body = {}
    body = body if isinstance(body, dict) else {}
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    message = str(body.get("error") or error.reason or "error")
    code = body.get("code") or details.get("code")  # type: ignore[union-attr]
    if error.code == 409 and code == "lease-lost":
        return LeaseLost(error.code, message, code)
    return ServerError(error.code, message, code if isinstance(code, str) else None)


class WorkerClient:
    """One server and one worker token; URLs in replies are relative to the server URL."""

    def __init__(
        self,
        server: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not urllib.parse.urlparse(server).scheme:
            raise ValueError(f"--server {server!r}: give a URL such as http://host:3000")
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    def resolve(self, url: str) -> str:
        """An absolute URL as is; anything else relative to the server URL (keeping its path)."""
        if urllib.parse.urlparse(url).scheme:
            return url
        return f"{self.server}/{url.lstrip('/')}"

    def _open(self, method: str, url: str, body: Optional[bytes], content_type: Optional[str], timeout: float):
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": f"tessera-worker/{TRAINER_VERSION}", "Accept": "application/json, */*"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.resolve(url), data=body, method=method, headers=headers)
        return urllib.request.urlopen(request, timeout=timeout)

    def _with_retries(self, what: str, attempt: Callable[[], Any]) -> Any:
        for tries in range(self.retries + 1):
            try:
                return attempt()
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    raise _server_error(error) from None
                failure: BaseException = _server_error(error)
            except Exception as error:  # noqa: BLE001 - sorted below
                if not _is_transient(error):
                    raise
                failure = error
            if tries == self.retries:
                raise ServerUnreachable(f"{what}: {failure}") from failure
            self.sleep(self.backoff_seconds * 2**tries)
        raise AssertionError("unreachable")

    def request(self, method: str, url: str, payload: Any = None, data: Optional[bytes] = None,
                timeout: Optional[float] = None) -> Tuple[int, bytes]:
        """Status and body; JSON payloads are sent as JSON, data as octet-stream."""
        body = data if data is not None else (json.dumps(payload).encode("utf-8") if payload is not None else None)
        content_type = "application/octet-stream" if data is not None else ("application/json" if payload is not None else None)

        def attempt() -> Tuple[int, bytes]:
            with self._open(method, url, body, content_type, timeout or self.timeout) as response:
                return response.status, response.read()

        return self._with_retries(f"{method} {url}", attempt)

    def request_json(self, method: str, url: str, payload: Any = None, data: Optional[bytes] = None,
                     timeout: Optional[float] = None) -> Any:
        status, body = self.request(method, url, payload, data, timeout)
        if status == 204 or not body:
            return None
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ServerError(status, f"{method} {url}: the reply is not JSON ({error})") from None

    # ── the protocol ────────────────────────────────────────────────────────────────────────

    def lease(self, wait_seconds: float, worker: Dict[str, str]) -> Optional[LeasedJob]:
        """Long poll for a job; None when none came within wait_seconds."""
        reply = self.request_json("POST", "/api/worker/lease", {"waitSeconds": wait_seconds, "worker": worker},
                                  timeout=wait_seconds + self.timeout)
        job = reply.get("job") if isinstance(reply, dict) else None
        return LeasedJob.parse(job) if job is not None else None

    def dataset_pages(self, first: str) -> Iterator[DatasetPage]:
        url: Optional[str] = first
        while url:
            page = DatasetPage.parse(self.request_json("GET", url))
            yield page
            url = page.next

    def pool_pages(self, first: str) -> Iterator[PoolPage]:
        """Active learning's pool, page by page (follows `next`)."""
        url: Optional[str] = first
        while url:
            page = PoolPage.parse(self.request_json("GET", url))
            yield page
            url = page.next

    def heartbeat(self, job_id: int, body: Dict[str, object]) -> HeartbeatReply:
        return HeartbeatReply.parse(self.request_json("POST", f"/api/worker/jobs/{job_id}/heartbeat", body))

    def put_checkpoint(self, job_id: int, attempt: int, data: bytes) -> None:
        self.request("PUT", f"/api/worker/jobs/{job_id}/checkpoint?attempt={attempt}", data=data, timeout=UPLOAD_TIMEOUT)

    def put_file(self, job_id: int, attempt: int, name: str, data: bytes) -> Dict[str, Any]:
        reply = self.request_json("PUT", f"/api/worker/jobs/{job_id}/files/{name}?attempt={attempt}", data=data,
                                  timeout=UPLOAD_TIMEOUT)
        return reply if isinstance(reply, dict) else {}

    def complete(self, job_id: int, body: Dict[str, object]) -> Dict[str, Any]:
        reply = self.request_json("POST", f"/api/worker/jobs/{job_id}/complete", body, timeout=UPLOAD_TIMEOUT)
        return reply if isinstance(reply, dict) else {}

    def fail(self, job_id: int, body: Dict[str, object]) -> None:
        self.request("POST", f"/api/worker/jobs/{job_id}/fail", body)

    def download(self, url: str, destination: Path) -> str:
        """Streams a file to destination; returns its sha256."""

        def attempt() -> str:
            digest = hashlib.sha256()
            with self._open("GET", url, None, None, self.timeout) as response, open(destination, "wb") as out:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            return digest.hexdigest()

        return self._with_retries(f"GET {url}", attempt)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BlobCache:
    """Downloaded files under root/<first two hex digits>/<sha256>, checked on every use, so a
    later job or attempt needs no second download. Nothing is evicted (delete the folder)."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def fetch(self, client: WorkerClient, ref: BlobRef) -> Tuple[Path, bool]:
        """The file's path and whether it had to be downloaded."""
        path = self.path(ref.sha256)
        if path.exists():
            if _sha256_of(path) == ref.sha256:
                return path, False
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        os.close(handle)
        try:
            actual = client.download(ref.url, Path(temporary))
            if actual != ref.sha256:
                raise ServerError(200, f"{ref.url}: sha256 {actual} differs from the announced {ref.sha256}")
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return path, True


@dataclass
class DownloadedDataset:
    """A job's training set: the server's items and the images ready for the model."""

    items: List[DatasetItem]
    images: List[LabelledImage]
    classes: List[Dict[str, Any]]
    downloaded_bytes: int
    cached_files: int


def labelled_image(item: DatasetItem, samples: bytes, labels: bytes, source: str, model_channels: int,
                   polarity: str = "bright") -> LabelledImage:
    """One dataset item's bytes → a LabelledImage normalised with the image's own statistics
    (model channel k = image channel k; further channels dropped, missing ones zero; inverted
    with polarity 'dark')."""
    try:
        raw = decode_samples(samples, item.width, item.height, item.channels, item.dtype)
        label_image = decode_labels(labels, item.width, item.height)
    except SampleFormatError as error:
        raise DatasetError(f"image {item.image_id} ({item.name}): {error}") from None
    return prepare_image(str(item.image_id), source, raw, label_image, model_channels, polarity)


def pool_image(client: WorkerClient, cache: BlobCache, item: PoolItem, model_channels: int,
               polarity: str = "bright") -> Tuple[np.ndarray, bool]:
    """A pool image's samples (cached by sha256) → (model channels, H, W) float32 normalised with
    its own statistics, as labelled_image does, and whether it had to be downloaded. Bytes that
    do not match the item's description are a DatasetError."""
    path, fresh = cache.fetch(client, item.samples)
    try:
        raw = decode_samples(path.read_bytes(), item.width, item.height, item.channels, item.dtype)
    except SampleFormatError as error:
        raise DatasetError(f"pool image {item.image_id} ({item.name}): {error}") from None
    return normalize_with_own_stats(raw, model_channels, polarity), fresh


def download_dataset(
    client: WorkerClient,
    cache: BlobCache,
    first_page: str,
    model_channels: int,
    source: str,
    log: Callable[[Dict[str, object]], None] = lambda event: None,
    before_item: Callable[[], None] = lambda: None,
    polarity: str = "bright",
) -> DownloadedDataset:
    """Every page of the set, every image's samples and labels (cached by sha256). before_item
    runs before each image (a worker stops a cancelled job there by raising)."""
    items: List[DatasetItem] = []
    images: List[LabelledImage] = []
    classes: List[Dict[str, Any]] = []
    downloaded = cached = 0
    total = None
    for page in client.dataset_pages(first_page):
        total = page.total
        classes = page.classes or classes
        for item in page.items:
            before_item()
            contents = []
            for ref in (item.samples, item.labels):
                path, fresh = cache.fetch(client, ref)
                contents.append(path.read_bytes())
                if fresh:
                    downloaded += len(contents[-1])
                else:
                    cached += 1
            items.append(item)
            images.append(labelled_image(item, contents[0], contents[1], source, model_channels, polarity))
        log({"event": "dataset-page", "images": len(items), "total": page.total})
    if total is not None and len(items) != total:
        raise DatasetError(f"the training set announced {total} images but its pages held {len(items)}")
    if not items:
        raise DatasetError("the training set is empty")
    return DownloadedDataset(items=items, images=images, classes=classes, downloaded_bytes=downloaded, cached_files=cached)


def prepare_again(client: WorkerClient, cache: BlobCache, items: Sequence[DatasetItem], model_channels: int,
                  source: str, polarity: str, before_item: Callable[[], None] = lambda: None) -> List[LabelledImage]:
    """A downloaded set's images normalised for another polarity, from the cache (the pages are
    not read again; a file missing from the cache is fetched as download_dataset would)."""
    images = []
    for item in items:
        before_item()
        samples, labels = (cache.fetch(client, ref)[0].read_bytes() for ref in (item.samples, item.labels))
        images.append(labelled_image(item, samples, labels, source, model_channels, polarity))
    return images
