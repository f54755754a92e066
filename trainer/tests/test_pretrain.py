"""A tiny CPU pretraining run end to end: train a few steps at 64 x 64, evaluate, export both
ONNX files, the parity fixture and the card (onnxruntime-node checks them on the Node side)."""

import base64
import json
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from tessera_trainer.__main__ import main
from tessera_trainer.data import is_held_out
from tessera_trainer.onnx_summary import summarize_onnx
from tessera_trainer.pretrain import PretrainOptions, pretrain
from tessera_trainer.train import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from card_schema import REPOSITORY, assert_valid_card  # noqa: E402
from test_data import write_folder  # noqa: E402


class TinyPretrainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.folder = tempfile.TemporaryDirectory()
        root = Path(cls.folder.name)
        write_folder(root / "real", 8, seed=3)
        cls.out = root / "v9"
        options = PretrainOptions(
            out=cls.out,
            real=[root / "real"],
            version="v9",
            train=TrainConfig(steps=3, batch_size=2, crop_size=64, log_every=1),
            synthetic_eval_images=1,
            synthetic_eval_size=64,
            eval_max_clicks=2,
            command="test",
        )
        cls.lines = []
        cls.card = pretrain(options, torch.device("cpu"), log=cls.lines.append)
        cls.real_ids = [f"img{i:02d}" for i in range(8)]

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def test_onnx_files_are_valid_graphs_with_the_card_names(self):
        for name, inputs, outputs in (
            ("encoder", ["image"], ["features", "details", "foreground", "distance"]),
            ("decoder", ["features", "clicks", "previousMask"], ["coarse"]),
        ):
            summary = summarize_onnx(self.out / f"{name}.onnx")
            self.assertEqual(summary.opsets[""], 17)
            self.assertEqual(summary.inputs, inputs)
            self.assertEqual(summary.outputs, outputs)
            self.assertEqual([io["name"] for io in self.card[name]["inputs"]], inputs)
            self.assertEqual([io["name"] for io in self.card[name]["outputs"]], outputs)
            self.assertGreater(summary.initializers, 0)
            self.assertIn("Conv", summary.op_types)
            self.assertNotIn("BatchNormalization", summary.op_types)

    def test_card_describes_inputs_costs_data_and_metrics(self):
        card = json.loads((self.out / "card.json").read_text())
        self.assertEqual(card["version"], "v9")
        self.assertEqual(card["input"]["channels"], 2)
        self.assertEqual(card["input"]["featureStride"], 4)
        self.assertEqual(card["clickEncoding"]["sigmaPixels"], 3.0)
        self.assertGreater(card["encoder"]["gflops512"], 0)
        self.assertLess(card["decoder"]["gflopsPerClick256"], 0.1)
        self.assertEqual(card["training"]["steps"], 3)
        real = card["training"]["data"]["real"][0]
        self.assertEqual(real["heldOutIds"], [i for i in self.real_ids if is_held_out(i)])
        self.assertEqual(real["trainImages"] + real["heldOutImages"], 8)
        synthetic = card["metrics"]["heldOut:synthetic"]
        for key in ("noc85", "noc90", "iou_at_1click", "auto_ap50", "foreground_iou"):
            self.assertIn(key, synthetic)
        self.assertTrue(1 <= synthetic["noc85"] <= 2)
        for entry in card["files"].values():
            self.assertEqual((self.out / entry["path"]).stat().st_size, entry["bytes"])
        self.assertTrue(any('"event": "train"' in line for line in self.lines))

    def test_cards_match_the_json_schema(self):
        assert_valid_card(self, json.loads((self.out / "card.json").read_text()))
        assert_valid_card(self, json.loads((REPOSITORY / "models" / "v0" / "card.json").read_text()))

    def test_parity_fixture_holds_decodable_tensors(self):
        fixture = json.loads((self.out / "parity.json").read_text())
        for network in ("encoder", "decoder"):
            for entry in list(fixture[network]["inputs"].values()) + list(fixture[network]["outputs"].values()):
                values = np.frombuffer(base64.b64decode(entry["data"]), dtype="<f4")
                self.assertEqual(values.size, int(np.prod(entry["shape"])))
                self.assertTrue(np.isfinite(values).all())
        self.assertEqual(fixture["decoder"]["outputs"]["mask"]["shape"], [1, 1, 48, 64])
        self.assertEqual(fixture["decoder"]["outputs"]["coarse"]["shape"], [1, 9, 12, 16])

    def test_export_command_rebuilds_the_files_from_the_checkpoint(self):
        again = Path(self.folder.name) / "again"
        again.mkdir()
        previous = json.loads((self.out / "card.json").read_text())
        previous["proposals"].update(minArea=32, minSeedArea=16, tuning={"method": "by hand"})
        (again / "card.json").write_text(json.dumps(previous))
        self.assertEqual(main(["--device", "cpu", "export", "--checkpoint", str(self.out / "checkpoint.pt"), "--out", str(again)]), 0)
        card = json.loads((again / "card.json").read_text())
        self.assertEqual(card["metrics"], self.card["metrics"])
        # Tuned proposal thresholds survive a re-export.
        self.assertEqual((card["proposals"]["minArea"], card["proposals"]["minSeedArea"]), (32, 16))
        self.assertEqual(card["proposals"]["tuning"], {"method": "by hand"})
        assert_valid_card(self, card)
        fixture = json.loads((again / "parity.json").read_text())
        original = json.loads((self.out / "parity.json").read_text())
        self.assertEqual(fixture["decoder"]["outputs"]["mask"]["data"], original["decoder"]["outputs"]["mask"]["data"])

    def test_decoder_fine_tune_leaves_the_encoder_and_its_head_as_they_were(self):
        tuned = Path(self.folder.name) / "tuned"
        args = ["--device", "cpu", "pretrain", "--out", str(tuned), "--real", str(Path(self.folder.name) / "real"),
                "--init", str(self.out / "checkpoint.pt"), "--freeze-encoder", "--max-prior-rounds", "6",
                "--steps", "3", "--batch-size", "2", "--crop-size", "64", "--synthetic-eval-images", "1",
                "--eval-max-clicks", "2"]
        self.assertEqual(main(args), 0)
        before = torch.load(self.out / "checkpoint.pt")
        after = torch.load(tuned / "checkpoint.pt")
        # Weights and BatchNorm statistics of the encoder are untouched; the decoder learned.
        for name, value in before["encoder"].items():
            self.assertTrue(torch.equal(value, after["encoder"][name]), name)
        self.assertFalse(all(torch.equal(v, after["decoder"][k]) for k, v in before["decoder"].items()))
        card = json.loads((tuned / "card.json").read_text())
        self.assertTrue(card["training"]["config"]["freeze_encoder"])
        self.assertEqual(card["training"]["config"]["max_prior_rounds"], 6)

    def test_encoder_widths_come_from_the_command_line(self):
        narrow = Path(self.folder.name) / "narrow"
        args = ["--device", "cpu", "pretrain", "--out", str(narrow), "--real", str(Path(self.folder.name) / "real"),
                "--widths", "8,16,24,32", "--feature-channels", "16", "--batch-size", "2",
                "--crop-size", "64", "--synthetic-eval-images", "1", "--eval-max-clicks", "1"]
        self.assertEqual(main(args + ["--steps", "1"]), 0)
        state = torch.load(narrow / "checkpoint.pt")
        self.assertEqual(tuple(state["model"]["widths"]), (8, 16, 24, 32))
        card = json.loads((narrow / "card.json").read_text())
        self.assertLess(card["encoder"]["parameters"], self.card["encoder"]["parameters"])
        self.assertEqual(card["encoder"]["outputs"][0]["shape"][1], 16)
        # Fine-tuning a checkpoint of another architecture is refused.
        with self.assertRaises(SystemExit):
            main(args + ["--init", str(self.out / "checkpoint.pt"), "--steps", "1"])
        with self.assertRaises(SystemExit):
            main(["pretrain", "--out", str(narrow), "--widths", "8,16", "--steps", "1"])

    def test_decoder_fine_tune_needs_an_encoder_to_keep(self):
        with self.assertRaises(SystemExit):
            main(["pretrain", "--out", str(Path(self.folder.name) / "x"), "--freeze-encoder", "--steps", "1"])


if __name__ == "__main__":
    unittest.main()
