"""`python -m tessera_trainer.bridge`: forwards a detector's ZeroMQ stream in DECTRIS Stream V2
form (CBOR start / image / end) to a Tessera stream's ingest websocket, and writes the events the
server sends back as JSON lines. It must never sit in a detector's data path as a PULL consumer
beside the file writer (ZeroMQ hands each frame to one puller); tap a PUB copy with --sub instead.

Standard library, numpy and Debian's python3-zmq, python3-cbor2 and python3-websocket only; the
conversion functions are pure and need neither socket.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Optional

import numpy as np

SELF_DESCRIBE_TAG = 55799
MULTI_DIM_TAG = 40
MULTI_DIM_COLUMN_MAJOR_TAG = 1040
# Stream V2's compressed arrays: [algorithm, element size, bytes] ("bslz4", "lz4").
COMPRESSION_TAG = 56500

# Tessera's sample types (shared/schemas/streams.ts StreamDtype) and the RFC 8746 tag each is
# sent with (little-endian, as the contract reads byte strings).
TESSERA_DTYPES: Dict[str, np.dtype] = {
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "uint32": np.dtype("<u4"),
    "float32": np.dtype("<f4"),
}
TESSERA_TYPED_ARRAY_TAGS = {"uint8": 64, "uint16": 69, "uint32": 70, "float32": 85}

MAX_CHANNELS = 4
MICROMETRES_PER_METRE = 1e6


class BridgeError(ValueError):
    """A Stream V2 message the bridge cannot forward; logged, and the stream goes on."""


def typed_array_dtype(tag: int) -> np.dtype:
    """numpy dtype of an RFC 8746 typed-array tag (64–87): bits 0b010_f_s_e_ll (float, signed,
    little-endian, size)."""
    if not 64 <= tag <= 87:
        raise BridgeError(f"CBOR tag {tag} is not a typed array (RFC 8746 tags 64-87)")
    bits = tag - 64
    is_float, signed, little, size_code = bits >> 4 & 1, bits >> 3 & 1, bits >> 2 & 1, bits & 3
    order = "<" if little else ">"
    if is_float:
        if size_code == 3:
            raise BridgeError(f"CBOR tag {tag}: 128-bit floats are not supported")
        return np.dtype(f"{order}f{2 << size_code}")
    if tag == 76:
        raise BridgeError("CBOR tag 76 is reserved by RFC 8746")
    return np.dtype(f"{order}{'i' if signed else 'u'}{1 << size_code}")


def _tag_of(value: Any) -> Optional[int]:
    return getattr(value, "tag", None) if hasattr(value, "value") else None


def strip_self_describe(value: Any) -> Any:
    """The message inside the self-describe tag 55799 (cbor2 may or may not strip it)."""
    while _tag_of(value) == SELF_DESCRIBE_TAG:
        value = value.value
    return value


def decode_array(value: Any, fallback_dtype: Optional[np.dtype] = None) -> np.ndarray:
    """A Stream V2 data value as a numpy array: tag 40 [[dims], typed array], a typed array tag, a
    byte string (samples of `fallback_dtype`) or a list of numbers. Compressed data is refused."""
    tag = _tag_of(value)
    if tag == COMPRESSION_TAG:
        algorithm = value.value[0] if isinstance(value.value, (list, tuple)) and value.value else "?"
        raise BridgeError(
            f"compressed data ({algorithm!r}, CBOR tag {COMPRESSION_TAG}) is not supported: "
            "turn the detector's stream compression off (Stream V2 'compression': 'none')"
        )
    if tag in (MULTI_DIM_TAG, MULTI_DIM_COLUMN_MAJOR_TAG):
        if not isinstance(value.value, (list, tuple)) or len(value.value) != 2:
            raise BridgeError(f"CBOR tag {tag} must hold [dimensions, array]")
        dims, inner = value.value
        if not isinstance(dims, (list, tuple)) or not all(isinstance(d, int) and d >= 0 for d in dims):
            raise BridgeError(f"CBOR tag {tag}: dimensions must be a list of counts, not {dims!r}")
        flat = decode_array(inner, fallback_dtype)
        expected = int(np.prod(dims)) if dims else 1
        if flat.size != expected:
            raise BridgeError(f"CBOR tag {tag}: {flat.size} samples for dimensions {list(dims)}")
        order = "F" if tag == MULTI_DIM_COLUMN_MAJOR_TAG else "C"
        return np.ascontiguousarray(flat.reshape(dims, order=order))
    if tag is not None:
        dtype = typed_array_dtype(tag)
        raw = value.value
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise BridgeError(f"CBOR tag {tag} must hold a byte string")
        if len(raw) % dtype.itemsize:
            raise BridgeError(f"CBOR tag {tag}: {len(raw)} bytes are not whole {dtype.itemsize}-byte samples")
        return np.frombuffer(bytes(raw), dtype=dtype)
    if isinstance(value, (bytes, bytearray, memoryview)):
        if fallback_dtype is None:
            raise BridgeError("a byte string of samples needs the series' image_dtype")
        if len(value) % fallback_dtype.itemsize:
            raise BridgeError(f"{len(value)} bytes are not whole {fallback_dtype.itemsize}-byte samples")
        return np.frombuffer(bytes(value), dtype=fallback_dtype.newbyteorder("<"))
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return np.asarray(value, dtype=fallback_dtype or np.float64)
    raise BridgeError(f"unsupported image data of type {type(value).__name__}")


def _rational_seconds(value: Any) -> Optional[float]:
    """Stream V2 times are [numerator, denominator] seconds; plain numbers are accepted too."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0] / value[1] if value[1] else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _epoch_seconds(value: Any) -> Optional[float]:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return _epoch_seconds(parsed)
    return None


def _json_like(value: Any) -> Any:
    """Metadata as plain JSON values (CBOR tags, bytes and dates become text or are dropped)."""
    if isinstance(value, dict):
        return {str(k): _json_like(v) for k, v in value.items() if not isinstance(v, (bytes, bytearray))}
    if isinstance(value, (list, tuple)):
        return [_json_like(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


@dataclass
class SeriesState:
    series_id: Any
    height: int
    width: int
    dtype: str
    channel_names: List[str]
    arm_epoch: Optional[float]


@dataclass
class StreamV2Converter:
    """Turns Stream V2 messages into Tessera's (shared/schemas/streams.ts), remembering each
    series' start to read its images. `backpressure` goes into every start when given."""

    backpressure: Optional[str] = None
    series: Dict[Any, SeriesState] = field(default_factory=dict)

    def convert(self, message: Any) -> Optional[Dict[str, Any]]:
        """The Tessera message for one Stream V2 message; None for types Tessera has no use for."""
        message = strip_self_describe(message)
        if not isinstance(message, dict):
            raise BridgeError(f"a Stream V2 message is a CBOR map, not {type(message).__name__}")
        kind = message.get("type")
        if kind == "start":
            return self.start(message)
        if kind == "image":
            return self.image(message)
        if kind == "end":
            series_id = self._series_id(message)
            self.series.pop(series_id, None)
            return {"type": "end", "series_id": series_id}
        return None

    @staticmethod
    def _series_id(message: Dict[str, Any]) -> Any:
        series_id = message.get("series_id")
        if isinstance(series_id, bool) or not isinstance(series_id, (int, str)) or series_id == "":
            raise BridgeError(f"{message.get('type')} message without a series_id")
        return series_id

    def start(self, message: Dict[str, Any]) -> Dict[str, Any]:
        series_id = self._series_id(message)
        dtype = message.get("image_dtype")
        if dtype not in TESSERA_DTYPES:
            raise BridgeError(
                f"series {series_id}: image_dtype {dtype!r} is not supported "
                f"(one of {', '.join(TESSERA_DTYPES)})"
            )
        width, height = message.get("image_size_x"), message.get("image_size_y")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise BridgeError(f"series {series_id}: image_size_x and image_size_y must be positive integers")
        names = message.get("channels") or []
        if isinstance(names, str):
            names = [names]
        names = [str(name) for name in names]
        if len(names) > MAX_CHANNELS:
            raise BridgeError(f"series {series_id}: {len(names)} channels; Tessera takes at most {MAX_CHANNELS}")
        self.series[series_id] = SeriesState(
            series_id, height, width, dtype, names, _epoch_seconds(message.get("arm_date"))
        )
        out: Dict[str, Any] = {
            "type": "start",
            "series_id": series_id,
            "shape": [height, width],
            "dtype": dtype,
            "channels": max(1, len(names)),
        }
        x_size, y_size = message.get("x_pixel_size"), message.get("y_pixel_size")
        if isinstance(x_size, (int, float)) and isinstance(y_size, (int, float)) and x_size > 0 and y_size > 0:
            # Stream V2 gives metres; Tessera (and Micro-Manager) micrometres.
            out["pixel_size"] = {"x": x_size * MICROMETRES_PER_METRE, "y": y_size * MICROMETRES_PER_METRE}
        if self.backpressure:
            out["backpressure"] = self.backpressure
        metadata: Dict[str, Any] = {}
        if names:
            metadata["channels"] = names
        for key in ("detector_description", "detector_serial_number", "count_time", "frame_time",
                    "incident_energy", "series_unique_id"):
            if key in message:
                metadata[key] = _json_like(message[key])
        user_data = message.get("user_data")
        if isinstance(user_data, dict):
            metadata["user_data"] = _json_like(user_data)
        elif user_data not in (None, "", b""):
            metadata["user_data"] = _json_like(user_data)
        if metadata:
            out["metadata"] = metadata
        return out

    def image(self, message: Dict[str, Any]) -> Dict[str, Any]:
        series_id = self._series_id(message)
        image_id = message.get("image_id")
        if isinstance(image_id, bool) or not isinstance(image_id, int) or image_id < 0:
            raise BridgeError(f"series {series_id}: image without a valid image_id")
        state = self.series.get(series_id)
        if state is None:
            raise BridgeError(f"image {image_id} of series {series_id} before its start (joined mid-series?)")
        data = message.get("data")
        if not isinstance(data, dict) or not data:
            raise BridgeError(f"image {image_id}: data must be a map of channel name to array")
        names = state.channel_names or list(data)
        missing = [name for name in names if name not in data]
        if missing:
            raise BridgeError(f"image {image_id}: no data for channel {missing[0]!r}")
        target = TESSERA_DTYPES[state.dtype]
        planes = []
        for name in names[:MAX_CHANNELS]:
            array = decode_array(data[name], target)
            if array.dtype != target:
                if not np.can_cast(array.dtype, target, "safe"):
                    raise BridgeError(
                        f"image {image_id}: channel {name!r} holds {array.dtype.name} samples, "
                        f"the series declared {state.dtype}"
                    )
                array = array.astype(target)
            planes.append(array.reshape(-1))
        if len({plane.size for plane in planes}) != 1:
            raise BridgeError(f"image {image_id}: its channels differ in size")
        # Interleaved height × width × channels; a size that differs from the start's is the
        # server's to refuse (it counts it and says so).
        samples = planes[0] if len(planes) == 1 else np.stack(planes, axis=-1).reshape(-1)
        out: Dict[str, Any] = {
            "type": "image",
            "series_id": series_id,
            "image_id": image_id,
            "data": _typed_array(samples.astype(target, copy=False), state.dtype),
        }
        start_time = _rational_seconds(message.get("start_time"))
        if state.arm_epoch is not None and start_time is not None:
            out["acquired_at"] = state.arm_epoch + start_time
        real_time = _rational_seconds(message.get("real_time"))
        if real_time is not None:
            out["metadata"] = {"real_time": real_time}
        return out


def _typed_array(samples: np.ndarray, dtype: str) -> Any:
    import cbor2

    return cbor2.CBORTag(TESSERA_TYPED_ARRAY_TAGS[dtype], samples.astype(TESSERA_DTYPES[dtype]).tobytes())


# ── Sockets ──────────────────────────────────────────────────────────────────────────────────


@dataclass
class BridgeOptions:
    source: str
    url: str
    token: str
    subscribe: bool = False
    backpressure: Optional[str] = None
    max_series: int = 0
    connect_timeout_s: float = 10.0


def _log(text: str) -> None:
    print(f"bridge: {text}", file=sys.stderr, flush=True)


def run_bridge(options: BridgeOptions, events: IO[str], should_stop: Callable[[], bool]) -> int:
    """Forwards until stopped, the websocket closes, or `max_series` series have ended; returns
    the exit status."""
    import cbor2
    import websocket
    import zmq

    try:
        ws = websocket.create_connection(
            options.url, header=[f"Authorization: Bearer {options.token}"], timeout=options.connect_timeout_s
        )
    except websocket.WebSocketBadStatusException as error:
        _log(f"the server refused the ingest socket: {error}")
        return 1
    except (OSError, websocket.WebSocketException) as error:
        _log(f"cannot reach {options.url}: {error}")
        return 1
    ws.settimeout(None)
    ready = threading.Event()
    finished = threading.Event()
    ended_series = [0]

    def write_event(message: Any) -> None:
        events.write(json.dumps(_json_like(message)) + "\n")
        events.flush()

    def read_server() -> None:
        try:
            while not finished.is_set():
                payload = ws.recv()
                if not payload:
                    break
                message = cbor2.loads(payload) if isinstance(payload, bytes) else json.loads(payload)
                write_event(message)
                kind = message.get("type") if isinstance(message, dict) else None
                if kind == "ready":
                    ready.set()
                elif kind == "error":
                    _log(f"the server refused a message: {message.get('error')}")
                elif kind == "ended":
                    ended_series[0] += 1
                    if options.max_series and ended_series[0] >= options.max_series:
                        break
        except (OSError, websocket.WebSocketException, ValueError) as error:
            if not finished.is_set():
                _log(f"ingest socket closed: {error}")
        finally:
            finished.set()
            ready.set()

    reader = threading.Thread(target=read_server, name="tessera-bridge-events", daemon=True)
    reader.start()
    if not ready.wait(options.connect_timeout_s) or finished.is_set():
        _log("the server did not say ready")
        finished.set()
        ws.close()
        return 1

    context = zmq.Context()
    source = context.socket(zmq.SUB if options.subscribe else zmq.PULL)
    if options.subscribe:
        source.setsockopt(zmq.SUBSCRIBE, b"")
    source.setsockopt(zmq.LINGER, 0)
    source.connect(options.source)
    _log(f"{'subscribed to' if options.subscribe else 'pulling from'} {options.source}")
    converter = StreamV2Converter(backpressure=options.backpressure)
    poller = zmq.Poller()
    poller.register(source, zmq.POLLIN)
    warned: set = set()
    status = 0
    try:
        while not finished.is_set() and not should_stop():
            if not poller.poll(200):
                continue
            raw = source.recv(zmq.NOBLOCK)
            try:
                converted = converter.convert(cbor2.loads(raw))
            except BridgeError as error:
                # One line per kind of problem, not one per frame.
                key = re.sub(r"\d+", "N", str(error))
                if key not in warned:
                    warned.add(key)
                    _log(f"skipped a message: {error}")
                continue
            except (ValueError, EOFError) as error:
                _log(f"skipped a message that is not CBOR: {error}")
                continue
            if converted is None:
                continue
            try:
                ws.send_binary(cbor2.dumps(converted))
            except (OSError, websocket.WebSocketException) as error:
                _log(f"cannot send to the server: {error}")
                status = 1
                break
        if finished.is_set() and not (options.max_series and ended_series[0] >= options.max_series):
            status = 1
        else:
            # Let the server's answers to the last frames arrive before closing.
            reader.join(timeout=2.0)
    finally:
        finished.set()
        source.close()
        context.term()
        try:
            ws.close()
        except (OSError, websocket.WebSocketException):
            pass
        reader.join(timeout=2.0)
    return status


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tessera_trainer.bridge",
        description="Forward a Stream V2 ZeroMQ stream to a Tessera stream and print its events.",
    )
    parser.add_argument("--source", required=True, help="ZeroMQ endpoint to connect to, e.g. tcp://detector:31001")
    parser.add_argument("--sub", action="store_true",
                        help="the source is a PUB socket (a tap or preview stream) instead of PUSH")
    parser.add_argument("--url", required=True, help="the ingest socket, ws://HOST/streams/ID/ingest")
    parser.add_argument("--token", required=True, help="an instrument token of the stream's project (tsi_…)")
    parser.add_argument("--events-out", help="write the server's events here as JSON lines (default stdout)")
    parser.add_argument("--backpressure", help='override the stream\'s policy for each series: "latest" or "queue:N"')
    parser.add_argument("--max-series", type=int, default=0,
                        help="exit after this many series have ended (default: run until stopped)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("ws://", "wss://")):
        parser.error("--url must be a ws:// or wss:// URL")
    if args.backpressure is not None and not (
        args.backpressure == "latest"
        or (args.backpressure.startswith("queue:") and args.backpressure[6:].isdigit()
            and 1 <= int(args.backpressure[6:]) <= 9999)
    ):
        parser.error('--backpressure must be "latest" or "queue:N"')
    try:
        import cbor2  # noqa: F401
        import websocket  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as error:
        print(f"bridge: {error.name} is missing: apt-get install python3-zmq python3-cbor2 python3-websocket "
              "and run with /usr/bin/python3", file=sys.stderr)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    options = BridgeOptions(source=args.source, url=args.url, token=args.token, subscribe=args.sub,
                            backpressure=args.backpressure, max_series=args.max_series)
    if args.events_out:
        with open(args.events_out, "a", encoding="utf-8") as events:
            return run_bridge(options, events, stop.is_set)
    return run_bridge(options, sys.stdout, stop.is_set)


if __name__ == "__main__":
    sys.exit(main())
