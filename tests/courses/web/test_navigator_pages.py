"""A Navigator's learning path through HTTP, from the LMS launch to a submitted assignment, plus
placement on launch and the dispatch of /start by role."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select

from courses.models import (
    CourseModule,
    GradebookOutbox,
    QuizAttempt,
    Submission,
    SubmissionFile,
    UnitProgress,
)
from courses.services.progress import score_state
from lti_tool.extensions import db
from lti_tool.vocab import ActivityProgress, GradingProgress
from tests.factories import RIGHT, WRONG, http_launch, make_module, place, text_of, token_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _quiz_form(token: str, answers: dict[str, list[str]], **extra: str) -> dict[str, object]:
    form: dict[str, object] = {"lt": token, **extra}
    for question, options in answers.items():
        form[f"antwort-{question}"] = options
    return form


def test_navigator_walks_the_whole_module_and_submits(app, client):
    module = make_module("b9-test", title="Rechtsrahmen im Test")
    nav = http_launch(client, module_id="b9-test")
    # The launch lands on /start, which places the module and shows it itself (no redirect).
    page = client.get(nav.location)
    assert page.status_code == 200
    token = token_of(nav.location)
    text = text_of(page.data)
    assert "Rechtsrahmen im Test" in text
    assert "0 %" in text and "nicht begonnen" in text
    facts = ("Erika Muster", "Digital-Navigator/in", "Digital-Navigatoren 2026", "Test-LMS")
    assert all(fact in text for fact in facts)
    assert "Weiter, wo Sie aufgehört haben" in text
    placed = db.session.scalars(select(CourseModule)).one()
    assert placed.module_pk == module.id and placed.resource_link_pk is not None

    # Reading: internal links carry the token, external ones never do.
    reading = client.get("/module/b9-test/einheit/lesen", query_string={"lt": token})
    assert reading.status_code == 200
    body = reading.data.decode()
    assert f'href="/module/b9-test/einheit/wissenstest?lt={token}"' in body
    assert 'href="https://www.example.org/quelle"' in body
    assert "Als gelesen markieren" in body
    done = client.post("/module/b9-test/einheit/lesen/gelesen", data={"lt": token})
    assert done.status_code == 303
    assert "als gelesen markiert" in text_of(client.get(done.headers["Location"]).data)

    # Quiz: wrong first, then right.
    quiz_url = "/module/b9-test/einheit/wissenstest/quiz"
    wrong = client.post(quiz_url, data=_quiz_form(token, WRONG))
    assert wrong.status_code == 303
    result = text_of(client.get(wrong.headers["Location"]).data)
    assert "0 %" in result and "Nicht bestanden" in result
    assert "Das OZG-Änderungsgesetz trat am 24.07.2024 in Kraft." in result
    right = client.post(quiz_url, data=_quiz_form(token, RIGHT))
    result = text_of(client.get(right.headers["Location"]).data)
    assert "100 %" in result and "Bestanden." in result
    assert "Versuch 1" in result and "Versuch 2" in result

    # Assignment: text and a PDF, submitted.
    submitted = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={
            "lt": token,
            "text": "Unser Soll-Prozess: Antrag online, Bescheid ins Postfach.",
            "aktion": "einreichen",
            "dateien": [(io.BytesIO(PDF), "soll-prozess.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert submitted.status_code == 303, text_of(submitted.data)
    assignment = text_of(client.get(submitted.headers["Location"]).data)
    assert "eingereicht – wartet auf Bewertung" in assignment
    assert "soll-prozess.pdf" in assignment

    overview = text_of(client.get("/module/b9-test", query_string={"lt": token}).data)
    assert "100 % – Bewertung ausstehend" in overview
    assert "eingereicht – Bewertung ausstehend" in overview
    my_modules = text_of(client.get("/module", query_string={"lt": token}).data)
    assert "Meine Module" in my_modules and "100 %" in my_modules

    state = score_state(nav.user, placed)
    assert state.activity_progress == ActivityProgress.SUBMITTED
    assert state.grading_progress == GradingProgress.PENDING_MANUAL
    assert state.score_given is None

    # Every unit state change queued this Navigator's score in this module for the LMS.
    [queued] = db.session.scalars(select(GradebookOutbox)).all()
    assert (queued.user_pk, queued.course_module_pk) == (nav.user.id, placed.id)
    assert queued.version > 1 and queued.payload["activityProgress"] == "Submitted"
    assert db.session.scalar(select(func.count()).select_from(UnitProgress)) == 3
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 2

    # The owner downloads the file as an attachment that is never sniffed.
    stored = db.session.scalars(select(SubmissionFile)).one()
    download = client.get(f"/abgabe/datei/{stored.id}", query_string={"lt": token})
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    assert stored.submission.text.startswith("Unser Soll-Prozess")


def test_submitted_assignment_is_locked_until_returned(app, client):
    make_module("b9-test")
    nav = http_launch(client, module_id="b9-test")
    token = nav.token
    client.get(nav.location)
    first = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={"lt": token, "text": "Erste Fassung", "aktion": "einreichen"},
    )
    assert first.status_code == 303
    again = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={"lt": token, "text": "Nachträglich geändert", "aktion": "entwurf"},
    )
    assert again.status_code == 409
    assert "bereits eingereicht" in text_of(again.data)
    submission = db.session.scalars(select(Submission)).one()
    assert submission.text == "Erste Fassung"

    # The Lotse returns it (grading side): the Navigator can edit and resubmit.
    submission.state = "returned"
    db.session.commit()
    page = text_of(client.get("/module/b9-test/einheit/aufgabe", query_string={"lt": token}).data)
    assert "zur Überarbeitung zurückgegeben" in page and "Einreichen" in page
    resubmit = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={"lt": token, "text": "Zweite Fassung", "aktion": "einreichen"},
    )
    assert resubmit.status_code == 303
    db.session.expire_all()
    submission = db.session.scalars(select(Submission)).one()
    assert (submission.text, submission.state) == ("Zweite Fassung", "submitted")


def test_draft_is_saved_and_empty_submission_refused(app, client):
    make_module("b9-test")
    nav = http_launch(client, module_id="b9-test")
    client.get(nav.location)
    draft = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={"lt": nav.token, "text": "Erste Notizen", "aktion": "entwurf"},
    )
    assert draft.status_code == 303
    assert "Ihr Entwurf ist gespeichert." in text_of(client.get(draft.headers["Location"]).data)
    empty = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={"lt": nav.token, "text": "  ", "aktion": "einreichen"},
    )
    assert empty.status_code == 422
    assert "Bitte schreiben Sie eine Antwort" in text_of(empty.data)
    assert db.session.scalars(select(Submission)).one().state == "draft"


def test_start_shows_my_modules_with_the_welcome_facts(app, client):
    nav = http_launch(client)  # a link without a module
    basic = make_module("b1-test", title="Basismodul")
    practice = make_module("p1-test", title="Praxismodul", kind="best-practice")
    place(nav.context, practice, due_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    place(nav.context, basic)
    page = client.get(nav.location)
    assert page.status_code == 200
    text = text_of(page.data)
    for fact in ("Name", "Erika Muster", "Rolle", "Digital-Navigator/in", "Kurs", "Plattform"):
        assert fact in text
    assert "Meine Module" in text
    # Basic modules first; the due date in Europe/Berlin as TT.MM.JJJJ, overdue marked in words.
    assert text.index("Basismodul") < text.index("Praxismodul")
    assert "Fällig am 01.04.2026" in text and "überfällig" in text
    assert "<progress" in page.data.decode()


def _module(slug: str):  # type: ignore[no-untyped-def]
    from courses.models import CatalogModule

    return db.session.scalars(select(CatalogModule).where(CatalogModule.slug == slug)).one()


def test_anonymous_navigator_sees_anonym(app, client):
    nav = http_launch(client, name=None)
    assert "anonym" in text_of(client.get(nav.location).data)


def test_placement_is_idempotent_and_unknown_modules_are_ignored(app, client):
    make_module("b9-test")
    first = http_launch(client, module_id="b9-test")
    client.get(first.location)
    second = http_launch(client, module_id="b9-test", sub="navigator-2")
    client.get(second.location)
    assert db.session.scalar(select(func.count()).select_from(CourseModule)) == 1
    unknown = http_launch(client, module_id="gibt-es-nicht", resource_link_id="link-9")
    page = client.get(unknown.location)
    assert page.status_code == 200 and "Meine Module" in text_of(page.data)


def test_default_modules_are_placed_in_an_empty_course_only(app, client):
    make_module("d1-test")
    make_module("d2-test")
    app.config["DEFAULT_COURSE_MODULES"] = ("d1-test", "fehlt-im-katalog")
    nav = http_launch(client)
    text = text_of(client.get(nav.location).data)
    assert "Testmodul d1-test" in text and "Testmodul d2-test" not in text
    app.config["DEFAULT_COURSE_MODULES"] = ("d2-test",)
    again = http_launch(client, sub="navigator-2")
    assert "Testmodul d2-test" not in text_of(client.get(again.location).data)


def test_limited_module_is_only_for_its_members(app, client):
    make_module("b9-test")
    member = http_launch(client, sub="mitglied")
    other = http_launch(client, sub="andere")
    place(member.context, _module("b9-test"), members=[member.user])
    assert "Testmodul b9-test" in text_of(client.get(member.location).data)
    assert "Testmodul b9-test" not in text_of(client.get(other.location).data)
    # Followed from a cross-reference, it says so instead of a 404, and opens nothing.
    elsewhere = client.get("/module/b9-test", query_string={"lt": other.token})
    assert elsewhere.status_code == 200
    assert "Ihnen in diesem Kurs nicht zugewiesen" in text_of(elsewhere.data)
    assert "/module/b9-test/einheit/" not in elsewhere.text
    # A link to it opens "Meine Module" with a notice instead.
    linked = http_launch(client, sub="andere", module_id="b9-test", resource_link_id="link-2")
    page = client.get(linked.location)
    assert page.status_code == 200 and "nicht zugewiesen" in text_of(page.data)


def test_lotse_gets_the_welcome_page_or_the_lotse_home(app, client):
    app.config.pop("LOTSE_HOME_ENDPOINT", None)
    lotse = http_launch(client, sub="lotse-1", lotse=True)
    page = client.get(lotse.location)
    assert page.status_code == 200 and "Digital-Lotse/-Lotsin" in text_of(page.data)
    app.config["LOTSE_HOME_ENDPOINT"] = "courses.index"
    moved = client.get(lotse.location)
    assert moved.status_code == 303
    assert urlsplit(moved.headers["Location"]).path == "/"
    assert "lt=" in moved.headers["Location"]
