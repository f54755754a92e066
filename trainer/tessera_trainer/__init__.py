"""Tessera's trainer: pretrains and exports the interactive segmentation model (image encoder + click decoder)."""

TRAINER_VERSION = "0.1.0"
