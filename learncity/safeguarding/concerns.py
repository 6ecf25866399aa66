"""What a message of danger or distress is about, and what the bot should do with it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Concern(StrEnum):
    """What kind of danger or distress a message signals."""

    SELF_HARM = "self-harm"
    CHILD_AT_RISK = "child-at-risk"
    DOMESTIC_VIOLENCE = "domestic-violence"
    SEXUAL_ABUSE = "sexual-abuse"
    GROOMING = "online-grooming"
    MISSING_PERSON = "missing-person"
    FORCED_MARRIAGE = "forced-marriage"
    WEAPONS = "weapons-threat"
    BULLYING = "bullying"


# Concerns after which the bot shows only the helplines: answering "courses" would be tone-deaf.
URGENT = frozenset(set(Concern) - {Concern.BULLYING})


@dataclass(frozen=True, slots=True)
class Detection:
    """A message that needs helplines, with every concern it signals (most likely first).

    `similarity` is the cosine similarity to the nearest distress example when the similarity
    layer decided, None when an explicit pattern did.
    """

    concerns: tuple[Concern, ...]
    similarity: float | None = None

    def __post_init__(self) -> None:
        if not self.concerns:
            raise ValueError("a Detection needs at least one concern")

    @property
    def concern(self) -> Concern:
        """Return the most likely concern."""
        return self.concerns[0]

    @property
    def urgent(self) -> bool:
        """Return True when only helplines should follow (anything but bullying)."""
        return any(concern in URGENT for concern in self.concerns)
