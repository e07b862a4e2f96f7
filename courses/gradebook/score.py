"""What the gradebook sends for a Navigator in a placed module: the score state and its AGS body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lti_tool.vocab import ActivityProgress, GradingProgress

from .line_items import LINE_ITEM_SCORE_MAXIMUM


@dataclass(frozen=True)
class ScoreState:
    """A Navigator's score in a placed module, as the AGS Score service expects it (computed by
    :func:`courses.services.progress.score_state`)."""

    activity_progress: ActivityProgress
    grading_progress: GradingProgress
    score_given: float | None = None
    score_maximum: float | None = None

    def __post_init__(self) -> None:
        # Accept the plain strings too ("Completed"), and refuse a value AGS does not know.
        object.__setattr__(self, "activity_progress", ActivityProgress(self.activity_progress))
        object.__setattr__(self, "grading_progress", GradingProgress(self.grading_progress))


ScoreSource = Callable[[], ScoreState | None]
"""Computes the score state when :func:`courses.gradebook.outbox.enqueue_score` asks for it,
after it has locked the outbox row (so that it reads what a concurrent change committed)."""


def build_score(user_sub: str, state: ScoreState) -> dict[str, Any]:
    """The AGS score body without its timestamp (AGS 2.0 §3.4, lti-notes §6)."""
    body: dict[str, Any] = {
        "userId": user_sub,
        "activityProgress": state.activity_progress.value,
        "gradingProgress": state.grading_progress.value,
    }
    if state.score_given is not None:
        # scoreGiven only together with scoreMaximum (Moodle refuses it alone).
        body["scoreGiven"] = float(state.score_given)
        body["scoreMaximum"] = float(state.score_maximum or LINE_ITEM_SCORE_MAXIMUM)
    return body


def same_score(payload: dict[str, Any], score: dict[str, Any]) -> bool:
    """Whether a stored payload carries ``score`` (timestamps aside)."""
    return {k: v for k, v in payload.items() if k != "timestamp"} == score
