"""Spot messages that signal danger or distress, so helplines come first.

- `detect(text)`: explicit Italian/English patterns only; no model, no I/O (the old behaviour).
- `SafeguardingClassifier(embeddings=...)`: the patterns, then a multilingual nearest-neighbour
  layer over `examples.yaml` on the project's sentence embedding.

It errs on the side of showing the helplines: a false alarm costs one extra message, a miss can cost
far more. Callers must never log the text.

Errors: `ExamplesError` (a `ValueError`) when the example bank is missing or malformed.
"""

from learncity.safeguarding.classifier import (
    EXAMPLES_PATH,
    ExampleBank,
    ExamplesError,
    Reading,
    SafeguardingClassifier,
    Scores,
    load_examples,
)
from learncity.safeguarding.concerns import URGENT, Concern, Detection
from learncity.safeguarding.patterns import detect

__all__ = [
    "EXAMPLES_PATH",
    "URGENT",
    "Concern",
    "Detection",
    "ExampleBank",
    "ExamplesError",
    "Reading",
    "SafeguardingClassifier",
    "Scores",
    "load_examples",
    "detect",
]
