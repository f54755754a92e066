import unittest

import numpy as np

from tessera_trainer.data import normalized_distance
from tessera_trainer.evaluate import match_instances
from tessera_trainer.proposals import connected_components, grow_labels, propose_instances


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class ConnectedComponentsTest(unittest.TestCase):
    def test_labels_in_raster_order_with_4_connectivity(self):
        mask = np.array(
            [
                [1, 1, 0, 0, 1],
                [0, 1, 0, 1, 0],
                [1, 0, 0, 1, 1],
            ],
            dtype=bool,
        )
        expected = np.array([[1, 1, 0, 0, 2], [0, 1, 0, 3, 0], [4, 0, 0, 3, 3]])
        np.testing.assert_array_equal(connected_components(mask), expected)

    def test_a_long_snake_is_one_component(self):
        mask = np.zeros((21, 21), dtype=bool)
        mask[::2, :] = True
        for row in range(1, 21, 2):
            mask[row, 20 if row % 4 == 1 else 0] = True
        self.assertEqual(int(connected_components(mask).max()), 1)


class ProposalsTest(unittest.TestCase):
    def test_touching_discs_are_split_and_matched(self):
        ys, xs = np.indices((40, 60))
        truth = np.zeros((40, 60), dtype=np.int32)
        truth[(ys - 20) ** 2 + (xs - 20) ** 2 <= 81] = 1
        truth[((ys - 20) ** 2 + (xs - 37) ** 2 <= 81) & (truth == 0)] = 2
        foreground = logit(np.where(truth > 0, 0.95, 0.05))
        distance = logit(normalized_distance(truth))
        proposals = propose_instances(foreground, distance)
        self.assertEqual(int(proposals.labels.max()), 2)
        self.assertEqual(proposals.scores.shape, (2,))
        match = match_instances(truth, proposals.labels)
        self.assertEqual(match["tp"], 2)
        self.assertEqual(match["ap"], 1.0)

    def test_growth_stays_inside_the_region(self):
        seeds = np.zeros((5, 5), dtype=np.int32)
        seeds[2, 0] = 1
        region = np.zeros((5, 5), dtype=bool)
        region[2, :3] = True
        grown = grow_labels(seeds, region)
        np.testing.assert_array_equal(grown[2], [1, 1, 1, 0, 0])
        self.assertEqual(int(grown.sum()), 3)


class MatchInstancesTest(unittest.TestCase):
    def test_counts_false_positives_and_negatives(self):
        truth = np.zeros((10, 10), dtype=np.int32)
        truth[0:4, 0:4] = 1
        truth[6:9, 6:9] = 2
        predicted = np.zeros((10, 10), dtype=np.int32)
        predicted[0:4, 0:3] = 5  # IoU 0.75 with object 1
        predicted[6:7, 0:2] = 7  # matches nothing
        match = match_instances(truth, predicted)
        self.assertEqual((match["tp"], match["fp"], match["fn"]), (1, 1, 1))
        self.assertAlmostEqual(match["ap"], 1 / 3)


if __name__ == "__main__":
    unittest.main()
