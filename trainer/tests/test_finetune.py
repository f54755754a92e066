"""Fine-tuning without HTTP: the validation split rule, resuming from a saved state at its step,
the stop flag, and the proposal threshold search (same numbers as one proposal run per point)."""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from tessera_trainer.data import held_out_score, prepare_image
from tessera_trainer.finetune import (
    VALIDATION_SALT,
    FinetuneCallbacks,
    FinetuneOptions,
    finetune,
    load_resume_state,
    recipe,
    split_validation,
)
from tessera_trainer.model import ModelConfig, build_networks
from tessera_trainer.pretrain import load_checkpoint
from tessera_trainer.synth import generate_image
from tessera_trainer.tune_proposals import Head, best_proposal_options, grid_ap50, grid_points, proposal_ap50

TINY = ModelConfig(widths=(4, 8, 8, 8), feature_channels=8, detail_channels=4, decoder_width=8)


def tiny_items(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [prepare_image(str(i), "test", s.image, s.labels, 2)
            for i, s in ((i, generate_image(rng, 48, 64)) for i in range(count))]


class ValidationSplitTest(unittest.TestCase):
    def test_the_score_rule_with_at_least_one_of_each(self):
        ids = [str(i) for i in range(200)]
        train, validation = split_validation(ids, 0.2)
        self.assertEqual(validation, [i for i in ids if held_out_score(i, VALIDATION_SALT) < 0.2])
        self.assertEqual(sorted(train + validation, key=int), ids)
        self.assertTrue(0.12 < len(validation) / len(ids) < 0.28)
        # Fixed: the same ids give the same split in any order.
        self.assertEqual(split_validation(list(reversed(ids)), 0.2)[1], list(reversed(validation)))

    def test_small_sets(self):
        self.assertEqual(split_validation(["9"], 0.5), (["9"], []))
        for ids in (["1", "2"], ["3", "4", "5"], ["10", "11"]):
            for fraction in (0.0, 0.2, 0.5):
                train, validation = split_validation(ids, fraction)
                self.assertGreaterEqual(len(validation), 1)
                self.assertGreaterEqual(len(train), 1)
        # With none below the fraction, the lowest score validates.
        ids = ["1", "2", "3"]
        lowest = min(ids, key=lambda i: held_out_score(i, VALIDATION_SALT))
        self.assertEqual(split_validation(ids, 0.0)[1], [lowest])


class FinetuneTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        torch.set_num_threads(1)
        self.items = tiny_items(3)
        self.options = FinetuneOptions(train=recipe(1.0, 6, 2, 32, 5e-4), chart_every_seconds=0)

    def run_tune(self, stop_after=None, resume=None, checkpoints=None):
        encoder, decoder = build_networks(TINY)
        steps = []

        def should_stop():
            return "cancelled" if stop_after is not None and steps and steps[-1] >= stop_after else None

        callbacks = FinetuneCallbacks(
            should_stop=should_stop,
            on_step=lambda progress: steps.append(progress.step),
            on_checkpoint=lambda data, step: (checkpoints if checkpoints is not None else []).append((data, step)),
        )
        result = finetune(encoder, decoder, TINY, self.items[:2], self.items[2:], self.options, torch.device("cpu"),
                          callbacks, resume=resume, extra={"validationIds": [2]})
        return result, steps, encoder

    def test_the_stop_flag_ends_training_after_that_step(self):
        checkpoints = []
        result, steps, _ = self.run_tune(stop_after=2, checkpoints=checkpoints)
        self.assertEqual(result.stopped, "cancelled")
        self.assertEqual(steps, [1, 2])
        self.assertEqual(result.steps, 2)
        self.assertEqual(checkpoints, [])  # a stopped run does not hand in a final checkpoint

    def test_resumes_from_a_saved_state_at_its_step(self):
        first, _, _ = self.run_tune(stop_after=3)
        state = load_resume_state(first.state)
        self.assertEqual((state["step"], state["extra"]["validationIds"]), (3, [2]))
        self.assertGreater(state["seconds"], 0)
        self.assertIn("state", state["optimizer"])
        checkpoints = []
        second, steps, encoder = self.run_tune(resume=state, checkpoints=checkpoints)
        self.assertIsNone(second.stopped)
        self.assertEqual(steps, [4, 5, 6])
        self.assertEqual(second.resumed_from["step"], 3)
        self.assertGreaterEqual(second.seconds, state["seconds"])
        # The chart continues the first run's; the last state is handed in once training ends.
        self.assertEqual(second.points[: len(first.points)], first.points)
        self.assertTrue(all(p.step > 3 for p in second.points[len(first.points):]))
        self.assertIsNotNone(second.points[-1].validation_loss)
        self.assertEqual(checkpoints[-1][1], 6)
        # The state is also a plain checkpoint (pretrain's format) of the same weights.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "state.pt"
            path.write_bytes(checkpoints[-1][0])
            loaded, _, config, _ = load_checkpoint(path, torch.device("cpu"))
        self.assertEqual(config, TINY)
        for name, value in encoder.state_dict().items():
            self.assertTrue(torch.equal(value, loaded.state_dict()[name]), name)


class ProposalTuningTest(unittest.TestCase):
    def test_shared_work_gives_the_same_numbers_and_the_first_best_point_wins(self):
        rng = np.random.default_rng(1)
        heads = []
        for item in tiny_items(2, seed=5):
            noise = rng.normal(0, 1.5, item.labels.shape)
            heads.append(Head(foreground=np.where(item.labels > 0, 2.0, -2.0) + noise,
                              distance=np.log(np.clip(item.distance, 1e-3, 1 - 1e-3) / (1 - np.clip(item.distance, 1e-3, 1 - 1e-3))),
                              labels=item.labels))
        scores = grid_ap50(heads)
        points = grid_points()
        self.assertEqual(len(points), 240)
        for point in points[::37]:
            self.assertAlmostEqual(scores[point], proposal_ap50(heads, point), places=12)
        best, ap = best_proposal_options(heads)
        self.assertEqual(ap, max(scores.values()))
        self.assertEqual(best, next(p for p in points if scores[p] == ap))


if __name__ == "__main__":
    unittest.main()
