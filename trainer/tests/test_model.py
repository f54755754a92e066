import unittest

import torch
from torch import nn

from tessera_trainer.model import (
    ClickDecoder,
    ImageEncoder,
    ModelConfig,
    build_networks,
    count_macs,
    fold_batch_norm,
    network_costs,
    widen_state,
)


class ShapesTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        torch.set_num_threads(1)

    def test_encoder_and_decoder_shapes_for_several_sizes_and_channels(self):
        for channels in (1, 2):
            encoder = ImageEncoder(in_channels=channels).eval()
            decoder = ClickDecoder().eval()
            for height, width in ((64, 64), (48, 80), (112, 32)):
                with torch.no_grad():
                    features, details, foreground, distance = encoder(torch.rand(2, channels, height, width))
                    self.assertEqual(features.shape, (2, 32, height // 4, width // 4))
                    self.assertEqual(details.shape, (2, 8, height, width))
                    self.assertEqual(foreground.shape, (2, 1, height, width))
                    self.assertEqual(distance.shape, (2, 1, height, width))
                    clicks = torch.zeros(2, 2, height // 4, width // 4)
                    previous = torch.full((2, 1, height // 4, width // 4), -20.0)
                    mask, low = decoder(features, details, clicks, previous)
                    self.assertEqual(mask.shape, (2, 1, height, width))
                    self.assertEqual(low.shape, (2, 1, height // 4, width // 4))

    def test_decoder_answers_to_clicks(self):
        encoder, decoder = build_networks(ModelConfig())
        encoder.eval(); decoder.eval()
        with torch.no_grad():
            features, details, _, _ = encoder(torch.rand(1, 2, 64, 64))
            previous = torch.full((1, 1, 16, 16), -20.0)
            empty = decoder(features, details, torch.zeros(1, 2, 16, 16), previous)[0]
            clicked = torch.zeros(1, 2, 16, 16)
            clicked[0, 0, 8, 8] = 1.0
            self.assertFalse(torch.allclose(empty, decoder(features, details, clicked, previous)[0]))


class CostsTest(unittest.TestCase):
    def test_macs_of_a_known_convolution(self):
        conv = nn.Conv2d(3, 5, 3, padding=1)
        self.assertEqual(count_macs(conv, torch.zeros(1, 3, 10, 10)), 5 * 10 * 10 * 3 * 9)
        depthwise = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.assertEqual(count_macs(depthwise, torch.zeros(1, 4, 8, 8)), 4 * 8 * 8 * 9)

    def test_budgets_of_the_default_networks(self):
        costs = network_costs(*build_networks(ModelConfig()))
        # Encoder of a 512 x 512 image within the ~500 ms budget; decoder <= 0.1 GFLOP per click.
        self.assertLess(costs["encoderGflops512"], 6.0)
        self.assertLess(costs["decoderGflopsPerClick256"], 0.1)


class FoldBatchNormTest(unittest.TestCase):
    def test_folded_encoder_gives_the_same_outputs(self):
        torch.manual_seed(1)
        encoder = ImageEncoder()
        encoder.train()
        with torch.no_grad():
            for _ in range(3):  # non-trivial running statistics
                encoder(torch.rand(2, 2, 32, 32) * 3)
        encoder.eval()
        image = torch.rand(1, 2, 48, 32)
        with torch.no_grad():
            expected = encoder(image)
            folded = fold_batch_norm(encoder)
            self.assertFalse(any(isinstance(m, nn.BatchNorm2d) for m in folded.modules()))
            for before, after in zip(expected, folded(image)):
                torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)


class WidenStateTest(unittest.TestCase):
    def test_a_widened_encoder_computes_what_the_narrow_one_did_and_then_learns(self):
        torch.manual_seed(2)
        narrow = ImageEncoder(widths=(8, 16, 24, 32))
        narrow.train()
        with torch.no_grad():
            for _ in range(3):  # non-trivial running statistics
                narrow(torch.rand(2, 2, 32, 32) * 3)
        narrow.eval()
        wide = ImageEncoder(widths=(8, 16, 40, 64))
        wide.load_state_dict(widen_state(narrow.state_dict(), wide))
        wide.eval()
        image = torch.rand(1, 2, 64, 48)
        with torch.no_grad():
            for before, after in zip(narrow(image), wide(image)):
                torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
        # The new channels take part once trained: the consumers' zero weights get gradients.
        wide.train()
        features = wide(image)[0]
        features.square().mean().backward()
        self.assertGreater(float(wide.lateral4.weight.grad[:, 32:].abs().sum()), 0.0)

    def test_a_narrower_or_different_network_is_refused(self):
        wide = ImageEncoder(widths=(8, 16, 40, 64))
        with self.assertRaises(ValueError):
            widen_state(wide.state_dict(), ImageEncoder(widths=(8, 16, 24, 32)))
        with self.assertRaises(ValueError):
            widen_state({}, wide)


if __name__ == "__main__":
    unittest.main()
