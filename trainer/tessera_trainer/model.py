"""The two networks of a model version: an image encoder (run once per image or tile) and a
small click decoder (run on every click), plus MAC counting for the card.

Shapes: image (N, C, H, W) with H, W multiples of SIZE_MULTIPLE; features at 1/FEATURE_STRIDE.
Never reads files or chooses a device; callers do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_STRIDE = 4
SIZE_MULTIPLE = 16
# Must equal clicks.CLICK_SIGMA_PIXELS (the decoder inverts the Gaussian click maps with it).
CLICK_SIGMA = 3.0
# Distance, in pixels, at which the decoder's click-distance ramps saturate.
CLICK_RAMP_PIXELS = 32.0


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of both networks; stored in checkpoints so they can be rebuilt."""

    in_channels: int = 2
    widths: Tuple[int, int, int, int] = (16, 32, 64, 96)
    detail_channels: int = 8
    feature_channels: int = 32
    decoder_width: int = 24
    decoder_dilations: Tuple[int, ...] = (1, 2, 4)

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)

    @staticmethod
    def from_dict(values: Dict[str, object]) -> "ModelConfig":
        return ModelConfig(
            in_channels=int(values["in_channels"]),  # type: ignore[arg-type]
            widths=tuple(values["widths"]),  # type: ignore[arg-type]
            detail_channels=int(values["detail_channels"]),  # type: ignore[arg-type]
            feature_channels=int(values["feature_channels"]),  # type: ignore[arg-type]
            decoder_width=int(values["decoder_width"]),  # type: ignore[arg-type]
            decoder_dilations=tuple(values["decoder_dilations"]),  # type: ignore[arg-type]
        )


class ConvBNReLU(nn.Module):
    """3x3 (or k x k) convolution, BatchNorm, ReLU; BatchNorm is folded into the conv at export."""

    def __init__(self, cin: int, cout: int, stride: int = 1, kernel: int = 3, dilation: int = 1):
        super().__init__()
        padding = dilation * (kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, dilation=dilation, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class ResidualBlock(nn.Module):
    """Two 3x3 ConvBN layers with an identity shortcut."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.first = ConvBNReLU(channels, channels, dilation=dilation)
        self.conv = nn.Conv2d(channels, channels, 3, 1, dilation, dilation=dilation, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn(self.conv(self.first(x))))


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear upsampling, half-pixel centres (ONNX Resize, coordinate mode pytorch_half_pixel)."""
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)


def refine_with_details(coarse: torch.Tensor, details: torch.Tensor) -> torch.Tensor:
    """Full-resolution logits from 1/4-resolution predictions (N, 1 + D, h, w): the upsampled
    logit (channel 0) plus the detail features (N, D, 4h, 4w) weighted by the upsampled
    channels 1..D, a 1x1 filter that varies over the image. Elementwise work only at full
    resolution, which is cheap in wasm and on CPUs."""
    up = upsample(coarse, FEATURE_STRIDE)
    return up[:, 0:1] + (up[:, 1:] * details).sum(dim=1, keepdim=True)


class ImageEncoder(nn.Module):
    """Normalised image → features at 1/4, full-resolution detail features, and the automatic
    head (foreground and centre-distance logits at full resolution)."""

    def __init__(
        self,
        in_channels: int = 2,
        widths: Tuple[int, int, int, int] = (16, 32, 64, 96),
        detail_channels: int = 8,
        feature_channels: int = 32,
    ):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.detail = nn.Sequential(
            ConvBNReLU(in_channels, detail_channels), ConvBNReLU(detail_channels, detail_channels)
        )
        self.down1 = nn.Sequential(ConvBNReLU(detail_channels, w1, 2), ConvBNReLU(w1, w1))
        self.down2 = nn.Sequential(ConvBNReLU(w1, w2, 2), ResidualBlock(w2))
        self.down3 = nn.Sequential(ConvBNReLU(w2, w3, 2), ResidualBlock(w3))
        self.down4 = nn.Sequential(ConvBNReLU(w3, w4, 2), ResidualBlock(w4, dilation=2))
        self.lateral4 = nn.Conv2d(w4, w3, 1)
        self.up3 = ConvBNReLU(w3, w3)
        self.lateral3 = nn.Conv2d(w3, w2, 1)
        self.skip1 = nn.Conv2d(w1, w2, 3, 2, 1)
        self.up2 = ConvBNReLU(w2, feature_channels)
        self.features = ResidualBlock(feature_channels)
        # Per output: a coarse logit and weights of the detail features (see refine_with_details).
        self.head = nn.Sequential(
            ConvBNReLU(feature_channels, feature_channels), nn.Conv2d(feature_channels, 2 * (1 + detail_channels), 1)
        )
        self.in_channels = in_channels
        self.detail_channels = detail_channels
        self.feature_channels = feature_channels

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        details = self.detail(image)
        e1 = self.down1(details)
        e2 = self.down2(e1)
        e3 = self.down3(e2)
        e4 = self.down4(e3)
        u3 = self.up3(e3 + upsample(self.lateral4(e4), 2))
        u2 = self.up2(e2 + upsample(self.lateral3(u3), 2) + self.skip1(e1))
        features = self.features(u2)
        head = self.head(features)
        split = 1 + self.detail_channels
        foreground = refine_with_details(head[:, :split], details)
        distance = refine_with_details(head[:, split:], details)
        return features, details, foreground, distance


def click_distance_ramps(clicks: torch.Tensor) -> torch.Tensor:
    """Distance to the nearest click of each channel, recovered from the Gaussian maps
    (-2 sigma^2 ln g = d^2) and scaled to a ramp: 0 at a click, 1 from CLICK_RAMP_PIXELS on (or
    with no click). Gives the decoder a wide view of where the clicks are from precise maps."""
    squared = -2.0 * CLICK_SIGMA * CLICK_SIGMA * torch.log(torch.clamp(clicks, min=1e-30))
    return torch.clamp(torch.sqrt(squared) / CLICK_RAMP_PIXELS, max=1.0)


class ClickDecoder(nn.Module):
    """Features + click maps + previous mask logits (all at 1/4) → the clicked object's mask
    logits at full resolution (refined with the detail features) and at 1/4 (fed back next click).

    Two scales: a 1x1 stem at 1/4, dilated 3x3 convolutions at 1/8 for a view wide enough for
    large objects, then one 3x3 at 1/4 for the edges. Dense convolutions run faster per MAC
    than depthwise ones on CPUs and in wasm. At full resolution only elementwise work: the
    coarse logit plus a locally weighted sum of the detail features, whose weights the decoder
    predicts at 1/4 (a dynamic 1x1 filter). No BatchNorm: it runs several times per step."""

    def __init__(
        self,
        feature_channels: int = 32,
        detail_channels: int = 8,
        width: int = 24,
        dilations: Tuple[int, ...] = (1, 2, 4),
    ):
        super().__init__()
        self.stem = nn.Conv2d(feature_channels + 5, width, 1)
        self.coarse = nn.ModuleList([nn.Conv2d(width, width, 3, 1, d, dilation=d) for d in dilations])
        self.fine = nn.Conv2d(width, width, 3, 1, 1)
        self.out = nn.Conv2d(width, 1 + detail_channels, 1)

    def forward(
        self,
        features: torch.Tensor,
        details: torch.Tensor,
        clicks: torch.Tensor,
        previous_mask: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.predict_coarse(features, clicks, previous_mask)
        return refine_with_details(out, details), out[:, 0:1]

    def predict_coarse(self, features: torch.Tensor, clicks: torch.Tensor, previous_mask: torch.Tensor) -> torch.Tensor:
        """Everything at feature resolution: channel 0 the mask logits (maskLowRes), channels 1..D
        the weights of the detail features. This is the exported graph; refine_with_details,
        elementwise at full resolution, runs in the runtime's own code (shared/ml/refine.ts)."""
        inputs = [features, clicks, click_distance_ramps(clicks), torch.sigmoid(previous_mask)]
        x = F.relu(self.stem(torch.cat(inputs, dim=1)))
        coarse = F.avg_pool2d(x, 2)
        for conv in self.coarse:
            coarse = F.relu(coarse + conv(coarse))
        x = F.relu(self.fine(x + upsample(coarse, 2)))
        return self.out(x)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of the conv and linear layers for one forward pass (hooks)."""
    total: List[int] = [0]

    def conv_hook(layer: nn.Conv2d, _inputs: Tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        kernel = layer.kernel_size[0] * layer.kernel_size[1] * (layer.in_channels // layer.groups)
        total[0] += int(output.numel()) * kernel

    def linear_hook(layer: nn.Linear, _inputs: Tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        total[0] += int(output.numel()) * layer.in_features

    handles = []
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            handles.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            handles.append(layer.register_forward_hook(linear_hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return total[0]


def fold_batch_norm(module: nn.Module) -> nn.Module:
    """Folds every BatchNorm that follows a bias-free conv (eval statistics) into that conv, in
    place, and replaces it by Identity. The module must be in eval mode semantics afterwards."""
    for child in module.modules():
        pairs = []
        if isinstance(child, ConvBNReLU):
            pairs.append((child, "conv", "bn"))
        if isinstance(child, ResidualBlock):
            pairs.append((child, "conv", "bn"))
        for owner, conv_name, bn_name in pairs:
            bn = getattr(owner, bn_name)
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            conv: nn.Conv2d = getattr(owner, conv_name)
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            folded = nn.Conv2d(
                conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                conv.padding, conv.dilation, conv.groups, bias=True,
            )
            with torch.no_grad():
                folded.weight.copy_(conv.weight * scale[:, None, None, None])
                folded.bias.copy_(bn.bias.detach() - bn.running_mean * scale)
            setattr(owner, conv_name, folded)
            setattr(owner, bn_name, nn.Identity())
    return module


def widen_state(old: Dict[str, torch.Tensor], module: nn.Module) -> Dict[str, torch.Tensor]:
    """A state for `module` (a wider network of the same layout) that computes what `old` did:
    every tensor's old part is copied; a conv's weights from new input channels are zero, so the
    new channels (freshly initialised producers, default BatchNorm) are ignored until training
    grows those weights. Raises ValueError where a tensor shrinks or is missing."""
    new = module.state_dict()
    widened: Dict[str, torch.Tensor] = {}
    for name, target in new.items():
        if name not in old:
            raise ValueError(f"{name} is not in the checkpoint")
        source = old[name]
        if source.shape == target.shape:
            widened[name] = source.clone()
            continue
        if source.dim() != target.dim() or any(a > b for a, b in zip(source.shape, target.shape)):
            raise ValueError(f"{name}: {tuple(source.shape)} cannot widen to {tuple(target.shape)}")
        out = target.clone()
        if source.dim() == 4:
            out[:, source.shape[1]:] = 0
        out[tuple(slice(0, n) for n in source.shape)] = source
        widened[name] = out
    return widened


def example_inputs(
    encoder: ImageEncoder, height: int, width: int
) -> Dict[str, torch.Tensor]:
    """Zero inputs of the right shapes for both networks at an image size."""
    fh, fw = height // FEATURE_STRIDE, width // FEATURE_STRIDE
    return {
        "image": torch.zeros(1, encoder.in_channels, height, width),
        "features": torch.zeros(1, encoder.feature_channels, fh, fw),
        "details": torch.zeros(1, encoder.detail_channels, height, width),
        "clicks": torch.zeros(1, 2, fh, fw),
        "previousMask": torch.full((1, 1, fh, fw), -20.0),
    }


def build_networks(config: ModelConfig) -> Tuple[ImageEncoder, ClickDecoder]:
    encoder = ImageEncoder(config.in_channels, config.widths, config.detail_channels, config.feature_channels)
    decoder = ClickDecoder(config.feature_channels, config.detail_channels, config.decoder_width, config.decoder_dilations)
    return encoder, decoder


def network_costs(encoder: ImageEncoder, decoder: ClickDecoder) -> Dict[str, float]:
    """MACs of the encoder on a 512 x 512 image and of the decoder per click on a 256 x 256 crop."""
    big = example_inputs(encoder, 512, 512)
    crop = example_inputs(encoder, 256, 256)
    encoder_macs = count_macs(encoder, big["image"])
    decoder_macs = count_macs(decoder, crop["features"], crop["details"], crop["clicks"], crop["previousMask"])
    return {
        "encoderMacs512": encoder_macs,
        "encoderGflops512": round(2 * encoder_macs / 1e9, 3),
        "encoderParameters": count_parameters(encoder),
        "decoderMacsPerClick256": decoder_macs,
        "decoderGflopsPerClick256": round(2 * decoder_macs / 1e9, 4),
        "decoderParameters": count_parameters(decoder),
    }
