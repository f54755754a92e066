"""The worker against an in-process server that records requests: lease → dataset → heartbeats →
checkpoint → files → complete; a second attempt resumes from the uploaded checkpoint without
downloading again; a lost lease stops the job without completing; a cancel fails it for good.
Tiny randomly initialised model, 48 x 64 images, a few steps on the CPU."""

import json
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

    def serve(self, server: FakeServer, cache: Path, **job_changes):
        base = server.add_blob(self.base_bytes)
        items = []
        for image_id, dtype, samples, labels in self.images:
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
