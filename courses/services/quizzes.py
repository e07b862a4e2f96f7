"""Quizzes: the stored attempts and the scoring, which happens on the server only.

The browser sends nothing but the chosen option ids. A question scores 1 when the chosen set equals
the set of correct options exactly, else 0; an attempt's percent is the sum over the questions.
Which attempt counts is the quiz's ``scoring``: ``best`` (highest percent, the earlier one on a tie)
or ``latest``. The quiz is passed when the counted attempt reaches ``pass_percent``. There is no
time limit and no limit on attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from courses.models import QuizAttempt, UnitVersion
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .errors import Invalid

SINGLE = "single"
MULTIPLE = "multiple"
TRUEFALSE = "truefalse"


@dataclass(frozen=True)
class Option:
    id: str
    text: str
    correct: bool


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: str
    options: list[Option]
    explanation: str

    @property
    def correct_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self.options if o.correct)


@dataclass(frozen=True)
class Quiz:
    """A quiz as imported, with the correct answers: never hand it to a template or a schema."""

    scoring: str
    pass_percent: float
    questions: list[Question]

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


def _truefalse_options(raw: dict[str, Any]) -> list[dict[str, Any]]:
    # The importer normalises truefalse to options "true"/"false"; a raw catalogue entry has
    # ``answer`` instead. Accept both so a quiz never breaks on the format.
    answer = bool(raw.get("answer"))
    return [
        {"id": "true", "text": _("Richtig"), "correct": answer},
        {"id": "false", "text": _("Falsch"), "correct": not answer},
    ]


def load_quiz(version: UnitVersion) -> Quiz:
    """The quiz of a unit version, normalised."""
    raw = version.quiz or {}
    questions = []
    for item in raw.get("questions") or []:
        kind = str(item.get("type", SINGLE))
        options_raw = item.get("options")
        if not options_raw and kind == TRUEFALSE:
            options_raw = _truefalse_options(item)
        options = [
            Option(
                id=str(o["id"]),
                text=str(o.get("text") or _default_option_text(str(o["id"]))),
                correct=bool(o.get("correct")),
            )
            for o in options_raw or []
        ]
        questions.append(
            Question(
                id=str(item["id"]),
                type=kind,
                text=str(item.get("text", "")),
                options=options,
                explanation=str(item.get("explanation") or ""),
            )
        )
    return Quiz(
        scoring=str(raw.get("scoring") or "best"),
        pass_percent=float(raw.get("pass_percent", 60)),
        questions=questions,
    )


def _default_option_text(option_id: str) -> str:
    return {"true": _("Richtig"), "false": _("Falsch")}.get(option_id, option_id)


def public_questions(quiz: Quiz) -> list[dict[str, Any]]:
    """The questions as a browser may see them before an attempt: no correct flags, no
    explanations."""
    return [
        {
            "id": q.id,
            "type": q.type,
            "text": q.text,
            "options": [{"id": o.id, "text": o.text} for o in q.options],
        }
        for q in quiz.questions
    ]


def check_answers(quiz: Quiz, answers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Return the answers cleaned (each question once, options in quiz order) or raise
    :class:`Invalid` with German messages under ``answers.<question id>``."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, list[str]] = {}
    for question_id in answers:
        if quiz.question(question_id) is None:
            errors[question_id] = [_("Diese Frage gibt es in diesem Quiz nicht.")]
    for question in quiz.questions:
        chosen = set(answers.get(question.id) or [])
        known = {o.id for o in question.options}
        if chosen - known:
            errors[question.id] = [_("Diese Antwortmöglichkeit gibt es bei der Frage nicht.")]
        elif not chosen:
            errors[question.id] = [_("Bitte beantworten Sie diese Frage.")]
        elif question.type != MULTIPLE and len(chosen) != 1:
            errors[question.id] = [_("Bitte wählen Sie genau eine Antwort.")]
        else:
            cleaned[question.id] = [o.id for o in question.options if o.id in chosen]
    if errors:
        raise Invalid({"answers": errors})
    return cleaned


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    chosen: list[str]
    is_correct: bool


@dataclass(frozen=True)
class QuizResult:
    questions: list[QuestionResult]
    correct_count: int
    question_count: int
    percent: float
    passed: bool


def score(quiz: Quiz, answers: dict[str, list[str]]) -> QuizResult:
    """Score checked ``answers`` against ``quiz``."""
    results = []
    for question in quiz.questions:
        chosen = list(answers.get(question.id) or [])
        results.append(QuestionResult(question, chosen, frozenset(chosen) == question.correct_ids))
    correct = sum(1 for r in results if r.is_correct)
    total = len(results)
    percent = 100.0 * correct / total if total else 0.0
    return QuizResult(results, correct, total, percent, percent >= quiz.pass_percent)


def record_attempt(
    *, user_pk: int, context_pk: int, version: UnitVersion, answers: dict[str, list[str]]
) -> tuple[QuizAttempt, QuizResult]:
    """Check and score ``answers``, store the attempt and flush. Raises :class:`Invalid`."""
    quiz = load_quiz(version)
    cleaned = check_answers(quiz, answers)
    result = score(quiz, cleaned)
    attempt = QuizAttempt(
        user_pk=user_pk,
        context_pk=context_pk,
        unit_pk=version.unit_pk,
        unit_version_pk=version.id,
        answers=cleaned,
        correct_count=result.correct_count,
        question_count=result.question_count,
        passed=result.passed,
        created_at=utcnow(),
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt, result


def result_of(attempt: QuizAttempt) -> QuizResult:
    """The per-question result of a stored attempt (re-scored against its own version)."""
    version = db.session.get(UnitVersion, attempt.unit_version_pk)
    assert version is not None
    return score(load_quiz(version), attempt.answers)


def attempts_of(user_pk: int, context_pk: int, unit_pk: int) -> list[QuizAttempt]:
    """A Navigator's attempts at a quiz in a course, oldest first."""
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.user_pk == user_pk,
                QuizAttempt.context_pk == context_pk,
                QuizAttempt.unit_pk == unit_pk,
            )
            .order_by(QuizAttempt.created_at, QuizAttempt.id)
        )
    )


def counted_attempt(attempts: list[QuizAttempt], scoring: str) -> QuizAttempt | None:
    """The attempt that counts under ``scoring`` (attempts oldest first)."""
    if not attempts:
        return None
    if scoring == "latest":
        return attempts[-1]
    best = attempts[0]
    for attempt in attempts[1:]:
        if attempt.percent > best.percent:
            best = attempt
    return best
