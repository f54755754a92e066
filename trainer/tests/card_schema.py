"""Checks a model card against shared/schemas/model-card.schema.json (generated from the zod
ModelCard); a test skips only while that file does not exist."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
CARD_SCHEMA = REPOSITORY / "shared" / "schemas" / "model-card.schema.json"


def assert_valid_card(test: unittest.TestCase, card: dict) -> None:
    if not CARD_SCHEMA.exists():
        test.skipTest(f"{CARD_SCHEMA.relative_to(REPOSITORY)} does not exist yet")
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(CARD_SCHEMA.read_text()))
    # As written to card.json (tuples become lists).
    errors = sorted(validator.iter_errors(json.loads(json.dumps(card))), key=lambda e: list(e.absolute_path))
    test.assertEqual(
        [], [f"{'/'.join(str(p) for p in e.absolute_path) or '(card)'}: {e.message}" for e in errors[:20]]
    )
