"""Unit tests of {{name}}'s decision, run natively: `make check` (python3 -m unittest)."""

import json
import unittest
from pathlib import Path

from event_filter import ConfigError, passes

EXAMPLE = Path(__file__).resolve().parent / "example.json"


def example(**changes):
    """example.json (a GitHub push), with some fields replaced."""
    envelope = json.loads(EXAMPLE.read_text())
    envelope.update(changes)
    return envelope


class Filter(unittest.TestCase):
    def test_a_listed_type_passes(self):
        self.assertTrue(passes(example()))
        self.assertTrue(passes(example(config={"types": ["release", "push"]})))

    def test_other_types_are_dropped(self):
        self.assertFalse(passes(example(config={"types": ["release"]})))
        self.assertFalse(passes(example(type=None)))  # the source does not know the type

    def test_config_types_is_required(self):
        for config in ({}, {"types": []}, {"types": "push"}):
            with self.subTest(config=config):
                with self.assertRaises(ConfigError):
                    passes(example(config=config))


if __name__ == "__main__":
    unittest.main()
