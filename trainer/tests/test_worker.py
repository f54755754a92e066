"""The worker against an in-process server that records requests: lease → dataset → heartbeats →
checkpoint → files → complete; a second attempt resumes from the uploaded checkpoint without
downloading again; a lost lease stops the job without completing; a cancel fails it for good; a
job with an active learning pool scores it after export and uploads the scores with the files,
and a cancel while scoring stops it. Tiny randomly initialised model, 48 x 64 images, a few
steps on the CPU."""

import json
import math
import signal
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from tessera_trainer.card import build_card
from tessera_trainer.model import ModelConfig, build_networks, network_costs
from tessera_trainer.pretrain import load_checkpoint, save_checkpoint
from tessera_trainer.protocol import LeasedJob, PoolPage, ProtocolError
from tessera_trainer.synth import generate_image
from tessera_trainer.worker import Worker, WorkerOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from card_schema import assert_valid_card  # noqa: E402
from fake_server import FakeServer  # noqa: E402

TINY = ModelConfig(widths=(4, 8, 8, 8), feature_channels=8, detail_channels=4, decoder_width=8)
PHASES = ["download", "train", "evaluate", "export", "upload"]


class WorkerProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        torch.manual_seed(0)
        cls.folder = tempfile.TemporaryDirectory()
        root = Path(cls.folder.name)
        encoder, decoder = build_networks(TINY)
        save_checkpoint(root / "base.pt", encoder, decoder, TINY, "v0")
        cls.base_card = build_card("v0", None, TINY, network_costs(encoder, decoder), {}, {}, {})
        cls.base_bytes = (root / "base.pt").read_bytes()
        rng = np.random.default_rng(3)
        cls.images = []
        for image_id, dtype in ((11, "uint16"), (12, "uint8"), (13, "uint16")):
            sample = generate_image(rng, 48, 64, channels=1, bit_depth=16 if dtype == "uint16" else 8)
            pixels = np.moveaxis(sample.image, 0, 2).astype("<u2" if dtype == "uint16" else "u1")
            cls.images.append((image_id, dtype, pixels.tobytes(), sample.labels.astype("<u2").tobytes()))

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def serve(self, server: FakeServer, cache: Path, images=None, **job_changes):
        base = server.add_blob(self.base_bytes)
        items = []
        for image_id, dtype, samples, labels in images or self.images:
            items.append({
                "imageId": image_id, "name": f"{image_id}.png", "width": 64, "height": 48, "channels": 1, "dtype": dtype,
                "samples": server.add_blob(samples), "labels": server.add_blob(labels),
                "instances": [{"label": 1, "classId": 1}], "documentHash": "d",
            })
        server.pages["0"] = {"items": items[:2], "total": 3, "next": "/api/worker/jobs/4/dataset?cursor=2",
                             "classes": [{"id": 1, "name": "nucleus"}]}
        server.pages["2"] = {"items": items[2:], "total": 3, "next": None, "classes": [{"id": 1, "name": "nucleus"}]}
        job = {
            "id": 4, "projectId": 2, "attempt": 1, "leaseSeconds": 30, "heartbeatSeconds": 0.2,
            "config": {"minutes": 1, "maxSteps": 4, "batchSize": 2, "cropSize": 32, "learningRate": 5e-4,
                       "validationFraction": 0.2, "seed": 0},
            "base": {"id": 1, "name": "v0", "card": self.base_card, "checkpoint": {"url": base["url"], "sha256": base["sha256"]}},
            "dataset": "/api/worker/jobs/4/dataset", "resume": None, "resultName": "p2-v1",
        }
        job.update(job_changes)
        server.jobs.append(job)
        events = []
        options = WorkerOptions(server=server.url, token="secret", device=torch.device("cpu"), name="test-worker",
                                cache=cache, wait_seconds=0, once=True)
        self.worker = Worker(options, emit=events.append)
        status = self.worker.serve()
        return status, events

    def test_a_job_from_lease_to_complete_then_a_resumed_attempt_from_the_cache(self):
        cache = Path(self.folder.name) / "cache"
        with FakeServer() as server:
            status, events = self.serve(server, cache)
            self.assertEqual(status, 0, [e for e in events if e.get("event") in ("failed", "job-ended")])
            order = [(r["method"], r["path"].split("/")[-1]) for r in server.requests]
            self.assertEqual(order[0], ("POST", "lease"))
            self.assertEqual(order[-1], ("POST", "complete"))
            self.assertTrue(all(r["auth"] == "Bearer secret" for r in server.requests))
            self.assertEqual(len(server.calls("/dataset")), 2)
            self.assertEqual(len(server.calls("/fail")), 0)
            # Files, each once, after training; the resume checkpoint before them.
            self.assertEqual(sorted(server.files), sorted(["encoder", "decoder", "parity", "checkpoint", "card"]))
            self.assertTrue(all(r["query"]["attempt"] == ["1"] for r in server.calls("", "PUT")))
            self.assertTrue(all(r["type"] == "application/octet-stream" for r in server.calls("", "PUT")))
            self.assertLess(max(i for i, r in enumerate(server.requests) if r["path"] == "/api/worker/jobs/4/checkpoint"),
                            min(i for i, r in enumerate(server.requests) if "/files/" in r["path"]))
            heartbeats = [r["json"] for r in server.calls("/heartbeat")]
            self.assertTrue(all(h["attempt"] == 1 for h in heartbeats))
            self.assertLessEqual({"download", "train"}, {h["progress"]["phase"] for h in heartbeats})
            points = [p for h in heartbeats for p in h["history"]]
            self.assertEqual(points[0]["step"], 0)
            self.assertEqual(points[-1]["step"], 4)
            self.assertIsNotNone(points[-1]["validationLoss"])
            self.assertTrue(any('"phase": "evaluate"' in line for h in heartbeats for line in h["log"]))

            complete = server.calls("/complete")[0]["json"]
            self.assertEqual(complete["attempt"], 1)
            self.assertEqual(sorted(complete["timings"]), sorted(PHASES))
            for key in ("validation", "baseValidation"):
                for metric in ("n_images", "n_objects", "auto_ap50", "noc85"):
                    self.assertIn(metric, complete["metrics"][key])
            self.assertEqual(complete["metrics"]["validation"]["n_images"], 1)

            card = json.loads(server.files["card"])
            self.assertEqual((card["version"], card["parentVersion"]), ("p2-v1", "v0"))
            training = card["training"]
            self.assertEqual((training["jobId"], training["steps"], training["baseVersion"]), (4, 4, "v0"))
            self.assertEqual(training["data"]["images"], 3)
            self.assertEqual(len(training["data"]["validationIds"]), 1)
            self.assertEqual(card["metrics"]["validationIds"], training["data"]["validationIds"])
            self.assertIn(card["proposals"]["minArea"], [8, 16, 32, 48])
            # Bright objects as the base was trained on: read as they are.
            self.assertEqual((card["input"]["polarity"], card["training"]["polarity"]["chosen"]), ("bright", "bright"))
            self.assertGreater(card["training"]["polarity"]["medianObjectContrast"], 0)
            self.assertIn("tuning", card["proposals"])
            self.assertEqual(card["files"]["checkpoint"]["bytes"], len(server.files["checkpoint"]))
            checkpoint = Path(self.folder.name) / "result.pt"
            checkpoint.write_bytes(server.files["checkpoint"])
            _, _, config, version = load_checkpoint(checkpoint, torch.device("cpu"))
            self.assertEqual((config, version), (TINY, "p2-v1"))
            self.card = card

            # Attempt 2 resumes from the uploaded checkpoint; the images and base come from the cache.
            resume = server.add_blob(server.checkpoints[-1])
            server.requests.clear()
            server.files.clear()
            config = {"minutes": 1, "maxSteps": 6, "batchSize": 2, "cropSize": 32, "learningRate": 5e-4,
                      "validationFraction": 0.2, "seed": 0}
            status, events = self.serve(server, cache, attempt=2, config=config,
                                        resume={"url": resume["url"], "sha256": resume["sha256"]})
            self.assertEqual(status, 0)
            self.assertEqual([r["path"] for r in server.calls("", "GET") if r["path"].startswith("/blobs/")],
                             [resume["url"]])
            card = json.loads(server.files["card"])
            self.assertEqual((card["training"]["resumedFrom"]["step"], card["training"]["steps"]), (4, 6))
            self.assertEqual(card["training"]["attempt"], 2)
        assert_valid_card(self, self.card)

    def test_dark_objects_on_a_bright_background_give_a_version_that_reads_images_inverted(self):
        # The same images as brightfield or stained tissue show them: dark objects, bright background.
        dark = []
        for image_id, dtype, samples, labels in self.images:
            numbers = np.frombuffer(samples, dtype="<u2" if dtype == "uint16" else "u1")
            dark.append((image_id, dtype, (numbers.max() - numbers).astype(numbers.dtype).tobytes(), labels))
        with FakeServer() as server:
            status, events = self.serve(server, Path(self.folder.name) / "cache-dark", images=dark)
            self.assertEqual(status, 0, [e for e in events if e.get("event") in ("failed", "job-ended")])
            card = json.loads(server.files["card"])
            self.assertEqual(card["input"]["polarity"], "dark")
            self.assertEqual(card["training"]["polarity"]["base"], "bright")
            self.assertLess(card["training"]["polarity"]["medianObjectContrast"], 0)
            self.assertIn("dark objects", card["task"])
            self.assertEqual([e["chosen"] for e in events if e.get("event") == "polarity"], ["dark"])
        assert_valid_card(self, card)

    def test_a_lost_lease_stops_the_job_without_completing(self):
        with FakeServer() as server:
            server.heartbeat_reply = lambda n: (409, {"error": "lease lost", "code": "lease-lost"}) if n >= 3 else (200, {"cancel": False, "leaseSeconds": 30})
            status, events = self.serve(server, Path(self.folder.name) / "cache-lost",
                                        config={"minutes": 1, "maxSteps": 100000, "batchSize": 2, "cropSize": 32})
            self.assertEqual(status, 1)
            self.assertEqual([e["state"] for e in events if e["event"] == "job-ended"], ["lease-lost"])
            self.assertEqual(server.calls("/complete") + server.calls("/fail"), [])
            self.assertEqual(server.files, {})
            self.assertEqual(len(server.calls("/heartbeat")), 3)  # none after the 409

    def test_a_cancel_fails_the_job_for_good(self):
        with FakeServer() as server:
            server.heartbeat_reply = lambda n: (200, {"cancel": n >= 3, "leaseSeconds": 30})
            status, _ = self.serve(server, Path(self.folder.name) / "cache-cancel",
                                   config={"minutes": 1, "maxSteps": 100000, "batchSize": 2, "cropSize": 32})
            self.assertEqual(status, 1)
            fails = [r["json"] for r in server.calls("/fail")]
            self.assertEqual([(f["error"], f["retry"], f["attempt"]) for f in fails], [("cancelled", False, 1)])
            self.assertEqual(server.calls("/complete"), [])

    def add_pool(self, server: FakeServer, count: int, per_page: int, repeat: bool = False, broken=()):
        """`count` pool images (ids 101..), `per_page` a page; repeat: each later page starts
        with the previous page's last image again (the pool is read live); broken: ids whose
        samples are a byte short."""
        rng = np.random.default_rng(8)
        items = []
        for index in range(count):
            image_id = 101 + index
            pixels = np.moveaxis(generate_image(rng, 48, 64, channels=1, bit_depth=16).image, 0, 2).astype("<u2")
            data = pixels.tobytes()[: -1 if image_id in broken else None]
            items.append({"imageId": image_id, "name": f"pool-{image_id}.tif", "width": 64, "height": 48, "channels": 1,
                          "dtype": "uint16", "samples": server.add_blob(data)})
        starts = list(range(0, count, per_page))
        for page, start in enumerate(starts):
            cursor = str(start)
            page_items = items[start : start + per_page]
            if repeat and page > 0:
                page_items = [items[start - 1]] + page_items
            following = f"/api/worker/jobs/4/pool?cursor={starts[page + 1]}" if page + 1 < len(starts) else None
            server.pool_pages[cursor] = {"items": page_items, "total": count, "next": following}
        return [item["imageId"] for item in items], [item["samples"]["sha256"] for item in items]

    def test_a_job_with_a_pool_scores_it_and_uploads_the_scores_with_the_version(self):
        with FakeServer() as server:
            ids, _ = self.add_pool(server, 7, 3, repeat=True, broken={104})
            status, events = self.serve(server, Path(self.folder.name) / "cache-pool", pool="/api/worker/jobs/4/pool",
                                        scoring={"strategy": "diverse"})
            self.assertEqual(status, 0, [e for e in events if e.get("event") in ("failed", "job-ended")])
            self.assertEqual(len(server.calls("/pool")), 3)
            self.assertEqual(sorted(server.files), sorted(["encoder", "decoder", "parity", "checkpoint", "card", "scores"]))
            scores = json.loads(server.files["scores"])
            self.assertEqual(sorted(scores), ["items", "seconds", "strategy", "version"])
            self.assertEqual((scores["strategy"], scores["version"]), ("diverse", "p2-v1"))
            self.assertGreaterEqual(scores["seconds"], 0)
            items = scores["items"]
            self.assertEqual(sorted(item["imageId"] for item in items), ids)  # each pool image once
            self.assertEqual([item["rank"] for item in items], list(range(1, len(ids) + 1)))
            self.assertTrue(all(sorted(item) == ["imageId", "rank", "score"] for item in items))
            self.assertTrue(all(isinstance(item["score"], float) and math.isfinite(item["score"]) for item in items))
            self.assertEqual(items[-1], {"imageId": 104, "score": 0.0, "rank": 7})  # unreadable: last
            # diverse's gains never increase with the rank.
            gains = [item["score"] for item in items[:-1]]
            self.assertTrue(all(a >= b for a, b in zip(gains, gains[1:])), gains)

            complete = server.calls("/complete")[0]["json"]
            self.assertEqual(sorted(complete["timings"]), sorted(PHASES + ["score"]))
            heartbeats = [r["json"] for r in server.calls("/heartbeat")]
            self.assertTrue(any('"phase": "score"' in line for h in heartbeats for line in h["log"]))
            self.assertTrue(any('"event": "scored"' in line for line in complete["log"]))
            # Scored after the export, before any file went up.
            paths = [r["path"] for r in server.requests]
            first_pool = min(i for i, path in enumerate(paths) if path.endswith("/pool"))
            self.assertLess(first_pool, min(i for i, path in enumerate(paths) if "/files/" in path))

    def test_the_pool_and_strategy_of_a_leased_job(self):
        job = {"id": 4, "projectId": 2, "attempt": 1, "leaseSeconds": 30, "heartbeatSeconds": 1,
               "config": {"minutes": 1, "maxSteps": 4}, "dataset": "/d", "resume": None, "resultName": "p2-v1",
               "base": {"id": 1, "name": "v0", "card": {}, "checkpoint": {"url": "/c", "sha256": "A" * 64}}}
        plain = LeasedJob.parse(job)
        self.assertEqual((plain.pool, plain.scoring), (None, None))
        self.assertEqual(LeasedJob.parse({**job, "pool": None, "scoring": None}), plain)
        scored = LeasedJob.parse({**job, "pool": "/api/worker/jobs/4/pool", "scoring": {"strategy": "tta"}})
        self.assertEqual((scored.pool, scored.scoring.strategy), ("/api/worker/jobs/4/pool", "tta"))
        # A strategy this trainer does not know is kept (the job scores with the default instead).
        self.assertEqual(LeasedJob.parse({**job, "pool": "/p", "scoring": {"strategy": "newer"}}).scoring.strategy, "newer")
        with self.assertRaises(ProtocolError):
            LeasedJob.parse({**job, "scoring": {"strategy": 3}})
        page = PoolPage.parse({"items": [{"imageId": 5, "name": "a.tif", "width": 3, "height": 2, "channels": 1,
                                          "dtype": "uint8", "samples": {"url": "/s", "sha256": "F" * 64, "bytes": 6}}],
                               "total": 1, "next": None})
        self.assertEqual((page.items[0].image_id, page.items[0].samples.sha256, page.next), (5, "f" * 64, None))
        with self.assertRaises(ProtocolError):
            PoolPage.parse({"items": [{"imageId": 5}], "total": 1, "next": None})

    def test_a_cancel_while_scoring_stops_the_job(self):
        with FakeServer() as server:
            ids, digests = self.add_pool(server, 40, 20)
            for digest in digests:
                server.slow_blobs[digest] = 0.05

            def reply(n):
                phase = server.calls("/heartbeat")[-1]["json"]["progress"]["phase"]
                return 200, {"cancel": phase == "score", "leaseSeconds": 30}

            server.heartbeat_reply = reply
            status, events = self.serve(server, Path(self.folder.name) / "cache-pool-cancel",
                                        pool="/api/worker/jobs/4/pool", scoring={"strategy": "entropy"})
            self.assertEqual(status, 1)
            self.assertEqual([e["state"] for e in events if e["event"] == "job-ended"], ["cancelled"])
            fails = [r["json"] for r in server.calls("/fail")]
            self.assertEqual([(f["error"], f["retry"]) for f in fails], [("cancelled", False)])
            self.assertEqual(server.calls("/complete"), [])
            self.assertEqual(server.files, {})
            fetched = [r for r in server.calls("", "GET") if r["path"].split("/")[-1] in set(digests)]
            self.assertGreater(len(fetched), 0)
            self.assertLess(len(fetched), len(ids))

    def test_sigterm_during_training_hands_in_a_checkpoint_and_fails_with_retry(self):
        with FakeServer() as server:
            def reply(n):
                if n == 3:  # as if Slurm's SIGTERM arrived now
                    self.worker.on_signal(signal.SIGTERM, None)
                return 200, {"cancel": False, "leaseSeconds": 30}

            server.heartbeat_reply = reply
            status, events = self.serve(server, Path(self.folder.name) / "cache-term",
                                        config={"minutes": 1, "maxSteps": 100000, "batchSize": 2, "cropSize": 32})
            self.assertEqual(status, 0)
            self.assertEqual([e["state"] for e in events if e["event"] == "job-ended"], ["stopped"])
            fails = [r["json"] for r in server.calls("/fail")]
            self.assertEqual([(f["retry"], f["attempt"]) for f in fails], [(True, 1)])
            self.assertIn("SIGTERM", fails[0]["error"])
            self.assertEqual(server.calls("/complete"), [])
            # The state at the stop went up before the fail, for the next attempt to resume from.
            order = [r["path"].split("/")[-1] for r in server.requests if r["method"] != "GET" and "heartbeat" not in r["path"]]
            self.assertEqual(order[order.index("fail") - 1], "checkpoint")


if __name__ == "__main__":
    unittest.main()
