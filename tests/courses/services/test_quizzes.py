"""Quizzes are scored on the server only: exact-set scoring, best or latest attempt, and a client
that sends its own score or correct flags changes nothing."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from courses.models import QuizAttempt, UnitProgress, UnitVersion
from courses.services.errors import Invalid
from courses.services.quizzes import check_answers, load_quiz, score
from lti_tool.extensions import db
from tests.factories import QUIZ, RIGHT, WRONG, http_launch, make_module

QUIZ_PAGE = "/module/b9-test/einheit/wissenstest"


def _quiz_version(slug: str = "b9-test") -> UnitVersion:
    return next(
        v
        for v in db.session.scalars(select(UnitVersion)).all()
        if v.quiz is not None and v.unit.module.slug == slug
    )


def test_a_question_scores_only_when_the_chosen_set_is_exactly_right(sqlite_app):
    make_module("b9-test")
    quiz = load_quiz(_quiz_version())
    assert score(quiz, RIGHT).percent == 100.0
    partly = score(quiz, {"q1": ["a"], "q2": ["true"], "q3": ["c"]})  # one of two correct
    assert (partly.correct_count, partly.question_count, partly.passed) == (2, 3, True)
    assert round(partly.percent, 2) == 66.67
    too_many = score(quiz, {"q1": ["b"], "q2": ["false"], "q3": ["c", "d", "e"]})
    assert too_many.correct_count == 0 and not too_many.passed


def test_truefalse_questions_from_a_raw_file_are_normalised(sqlite_app):
    raw = copy.deepcopy(QUIZ)
    del raw["questions"][1]["options"]  # as written in the catalogue: only ``answer``
    make_module("b9-test", quiz=raw)
    quiz = load_quiz(_quiz_version())
    assert [o.id for o in quiz.questions[1].options] == ["true", "false"]
    assert score(quiz, RIGHT).percent == 100.0


@pytest.mark.parametrize(
    ("answers", "question", "message"),
    [
        ({**RIGHT, "q9": ["a"]}, "q9", "gibt es in diesem Quiz nicht"),
        ({**RIGHT, "q1": ["zz"]}, "q1", "Antwortmöglichkeit gibt es"),
        ({**RIGHT, "q1": ["a", "b"]}, "q1", "genau eine Antwort"),
        ({"q1": ["a"], "q3": ["c"]}, "q2", "Bitte beantworten Sie diese Frage."),
        ({**RIGHT, "q3": []}, "q3", "Bitte beantworten Sie diese Frage."),
    ],
)
def test_answers_that_do_not_fit_the_quiz_are_refused(sqlite_app, answers, question, message):
    make_module("b9-test")
    with pytest.raises(Invalid) as error:
        check_answers(load_quiz(_quiz_version()), answers)
    assert message in error.value.errors["answers"][question][0]


def _launched(client):  # type: ignore[no-untyped-def]
    nav = http_launch(client, module_id="b9-test")
    client.get(nav.location)
    return nav


def test_correct_answers_never_leave_the_server_before_an_attempt(app, client):
    make_module("b9-test")
    nav = _launched(client)
    page = client.get(QUIZ_PAGE, query_string={"lt": nav.token}).data.decode()
    api = client.get("/api/module/b9-test/einheit/wissenstest", headers=nav.headers).get_json()
    for explanation in ("Das OZG-Änderungsgesetz", "§ 8 SächsISichG", "DeutschlandID und"):
        assert explanation not in page and explanation not in json.dumps(api, ensure_ascii=False)
    assert "correct" not in page and "korrekte Antwort" not in page
    assert "correct" not in json.dumps(api)
    assert api["questions"][0]["options"] == [
        {"id": "a", "text": "Seit dem 24.07.2024"},
        {"id": "b", "text": "Seit dem 01.01.2022"},
    ]


@pytest.mark.parametrize(
    "forged",
    [
        {"score": 100},
        {"percent": 100, "passed": True},
        {"correct": {"q1": ["b"]}},
        {"points": 3},
    ],
)
def test_api_refuses_a_score_or_correct_flags_sent_by_the_client(app, client, forged):
    make_module("b9-test")
    nav = _launched(client)
    response = client.post(
        "/api/module/b9-test/einheit/wissenstest/quiz",
        json={"answers": WRONG, **forged},
        headers=nav.headers,
    )
    assert response.status_code == 422
    for field in forged:
        assert "Unbekanntes Feld" in response.get_json()["errors"][field][0]
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


def test_api_refuses_flags_hidden_inside_the_answers(app, client):
    make_module("b9-test")
    nav = _launched(client)
    response = client.post(
        "/api/module/b9-test/einheit/wissenstest/quiz",
        json={"answers": {"q1": [{"id": "b", "correct": True}], "q2": ["false"], "q3": ["e"]}},
        headers=nav.headers,
    )
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


def test_form_fields_other_than_answers_are_ignored_and_the_servers_score_is_stored(app, client):
    make_module("b9-test")
    nav = _launched(client)
    form = {
        "lt": nav.token,
        "score": "100",
        "percent": "100",
        "passed": "1",
        "correct": "1",
        "points": "3",
        "antwort-q1": "b",
        "antwort-q2": "false",
        "antwort-q3": ["c"],
    }
    response = client.post(QUIZ_PAGE + "/quiz", data=form)
    assert response.status_code == 303
    attempt = db.session.scalars(select(QuizAttempt)).one()
    assert (attempt.correct_count, attempt.question_count, attempt.passed) == (0, 3, False)
    assert attempt.answers == {"q1": ["b"], "q2": ["false"], "q3": ["c"]}
    assert db.session.scalars(select(UnitProgress)).one().state == "in_progress"


def test_an_incomplete_form_is_shown_again_with_errors_and_choices(app, client):
    make_module("b9-test")
    nav = _launched(client)
    response = client.post(
        QUIZ_PAGE + "/quiz", data={"lt": nav.token, "antwort-q1": "b", "antwort-q3": "zz"}
    )
    assert response.status_code == 422
    page = response.data.decode()
    assert "Bitte beantworten Sie diese Frage." in page
    assert "Diese Antwortmöglichkeit gibt es bei der Frage nicht." in page
    assert 'id="antwort-q1-b" checked' in page
    assert 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


@pytest.mark.parametrize(("scoring", "state"), [("best", "done"), ("latest", "in_progress")])
def test_best_or_latest_attempt_counts(app, client, scoring, state):
    make_module("b9-test", quiz={**QUIZ, "scoring": scoring})
    nav = _launched(client)
    for answers in (RIGHT, WRONG):
        attempt = client.post(
            "/api/module/b9-test/einheit/wissenstest/quiz",
            json={"answers": answers},
            headers=nav.headers,
        )
        assert attempt.status_code == 201
    assert attempt.get_json()["unit_state"] == state
    unit = client.get("/api/module/b9-test/einheit/wissenstest", headers=nav.headers).get_json()
    counted = [a["percent"] for a in unit["attempts"] if a["counted"]]
    assert counted == ([100.0] if scoring == "best" else [0.0])
    page = client.get(QUIZ_PAGE, query_string={"lt": nav.token}).data.decode()
    assert "Ihre bisherigen Versuche" in page
