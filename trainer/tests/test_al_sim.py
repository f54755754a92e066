"""The simulated annotator on synthetic folders with a tiny network and budget: rounds label K new
images each, the first round is shared by every strategy, a seed repeats exactly, and the report
is plain JSON."""

import json
import tempfile
import unittest
from pathlib import Path

import torch

from tessera_trainer.al_sim import SimulationConfig, simulate, write_synthetic_folders
from tessera_trainer.model import ModelConfig, build_networks
from tessera_trainer.pretrain import save_checkpoint

TINY = ModelConfig(widths=(4, 8, 8, 8), feature_channels=8, detail_channels=4, decoder_width=8)
# Each fine-tune grows a synthetic pool first (about a second): three strategies here, the other
# two in the repeat.
STRATEGIES = ("random", "boundary", "tta")


class SimulationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        torch.set_num_threads(1)
        cls.folder = tempfile.TemporaryDirectory()
        root = Path(cls.folder.name)
        pool, test = write_synthetic_folders(root / "data", 7, 2, size=48, seed=3)
        encoder, decoder = build_networks(TINY)
        save_checkpoint(root / "base.pt", encoder, decoder, TINY, "tiny")
        cls.config = SimulationConfig(pool=pool, test=test, checkpoint=root / "base.pt", strategies=STRATEGIES,
                                      seeds=2, rounds=2, per_round=2, steps=2, batch_size=2, crop_size=32,
                                      noc_images=1, max_clicks=2)
        cls.events = []
        cls.report = simulate(cls.config, torch.device("cpu"), log=cls.events.append)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def runs(self, report=None):
        return {(run["strategy"], run["seed"]): run["rounds"] for run in (report or self.report)["runs"]}

    def test_rounds_label_k_new_images_each(self):
        self.assertEqual(len(self.report["runs"]), len(STRATEGIES) * 2)
        for rounds in self.runs().values():
            self.assertEqual([r["round"] for r in rounds], [1, 2])
            self.assertEqual([r["labelled"] for r in rounds], [2, 4])
            picked = [image for r in rounds for image in r["picked"]]
            self.assertEqual(len(set(picked)), 4)
            self.assertTrue(set(picked) <= set(self.report["pool"]["ids"]))
            for r in rounds:
                self.assertIn("auto_ap50", r["metrics"])
                self.assertGreaterEqual(r["cpuSeconds"]["finetune"], 0.0)
                self.assertEqual("scoring" in r["cpuSeconds"], r["round"] > 1)
            # NoC only in the final round.
            self.assertEqual(["noc85" in r["metrics"] for r in rounds], [False, True])

    def test_the_first_round_is_shared_per_seed(self):
        runs = self.runs()
        for seed in (0, 1):
            firsts = [runs[(s, seed)][0] for s in STRATEGIES]
            self.assertTrue(all(first == firsts[0] for first in firsts))
            self.assertTrue(firsts[0]["shared"])
        self.assertNotEqual(runs[("random", 0)][0]["picked"], runs[("random", 1)][0]["picked"])
        # One shared round event per seed, then the strategies' own rounds.
        shared = [e for e in self.events if e.get("event") == "round" and e["strategy"] == "*"]
        self.assertEqual(len(shared), 2)

    def test_a_seed_repeats_exactly_whatever_else_runs(self):
        config = SimulationConfig(**{**self.config.__dict__, "strategies": ("entropy", "diverse", "random"), "seeds": 1})
        again = self.runs(simulate(config, torch.device("cpu")))

        def timeless(rounds):
            return [{k: v for k, v in r.items() if k not in ("cpuSeconds", "wallSeconds")} for r in rounds]

        self.assertEqual(timeless(again[("random", 0)]), timeless(self.runs()[("random", 0)]))
        self.assertEqual(timeless(again[("entropy", 0)])[0], timeless(self.runs()[("tta", 0)])[0])
        self.assertEqual(len(again[("diverse", 0)][1]["picked"]), 2)

    def test_the_report_is_json(self):
        text = json.dumps(self.report)
        self.assertEqual(json.loads(text)["format"], "tessera-al-simulation")
        self.assertEqual(self.report["baseline"]["labelled"], 0)
        self.assertIn("noc85", self.report["baseline"]["metrics"])

    def test_bad_configurations_are_refused(self):
        with self.assertRaises(ValueError):
            simulate(SimulationConfig(**{**self.config.__dict__, "strategies": ("nope",)}), torch.device("cpu"))
        with self.assertRaises(ValueError):
            simulate(SimulationConfig(**{**self.config.__dict__, "rounds": 4}), torch.device("cpu"))  # 8 > 7 images


if __name__ == "__main__":
    unittest.main()
