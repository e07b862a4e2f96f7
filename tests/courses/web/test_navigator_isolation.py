"""A Navigator reaches only their own work: other Navigators' modules, attempts, submissions and
files are 404 by id guessing, modules of other courses too, and a Lotse cannot post as one."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from courses.models import QuizAttempt, Submission, SubmissionFile, UnitProgress
from lti_tool.extensions import db
from tests.factories import RIGHT, http_launch, make_module

PDF = b"%PDF-1.7\n%%EOF\n"


def _submit_with_file(client, token: str) -> SubmissionFile:  # type: ignore[no-untyped-def]
    response = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={
            "lt": token,
            "text": "Meine Abgabe",
            "aktion": "entwurf",
            "dateien": [(io.BytesIO(PDF), "abgabe.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    return db.session.scalars(select(SubmissionFile)).one()


def test_other_navigators_work_is_unreachable(app, client):
    make_module("b9-test")
    owner = http_launch(client, sub="eigentuemerin", module_id="b9-test")
    client.get(owner.location)
    stored = _submit_with_file(client, owner.token)
    quiz = client.post(
        "/module/b9-test/einheit/wissenstest/quiz",
        data={"lt": owner.token, **{f"antwort-{q}": v for q, v in RIGHT.items()}},
    )
    attempt = db.session.scalars(select(QuizAttempt)).one()
    assert quiz.status_code == 303

    intruder = http_launch(client, sub="neugierig", module_id="b9-test", resource_link_id="link-2")
    client.get(intruder.location)
    token = intruder.token
    assert client.get(f"/abgabe/datei/{stored.id}", query_string={"lt": token}).status_code == 404
    assert (
        client.get(
            f"/module/b9-test/einheit/wissenstest/versuch/{attempt.id}", query_string={"lt": token}
        ).status_code
        == 404
    )
    removal = client.post(
        f"/module/b9-test/einheit/aufgabe/abgabe/datei/{stored.id}/entfernen", data={"lt": token}
    )
    assert removal.status_code == 404
    # The intruder's own assignment page shows nothing of the owner's submission.
    page = client.get("/module/b9-test/einheit/aufgabe", query_string={"lt": token}).data.decode()
    assert "abgabe.pdf" not in page and "Meine Abgabe" not in page
    api = client.get("/api/module/b9-test/einheit/aufgabe", headers=intruder.headers).get_json()
    assert api["submission"] is None
    # Nothing of the owner's changed.
    assert db.session.scalar(select(func.count()).select_from(SubmissionFile)) == 1
    assert db.session.scalars(select(Submission)).one().text == "Meine Abgabe"

    # The owner's file stays theirs; ids next to it do not exist.
    own = client.get(f"/abgabe/datei/{stored.id}", query_string={"lt": owner.token})
    assert own.status_code == 200
    own.close()
    next_id = client.get(f"/abgabe/datei/{stored.id + 1}", query_string={"lt": owner.token})
    assert next_id.status_code == 404


def test_lotse_of_the_course_may_download_but_not_post_as_navigator(app, client):
    make_module("b9-test")
    owner = http_launch(client, sub="navigatorin", module_id="b9-test")
    client.get(owner.location)
    stored = _submit_with_file(client, owner.token)
    lotse = http_launch(client, sub="lotsin", lotse=True)
    # A draft is the Navigator's alone; once handed in, the Lotse of the course may read it.
    draft = client.get(f"/abgabe/datei/{stored.id}", query_string={"lt": lotse.token})
    assert draft.status_code == 404
    handed_in = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={"lt": owner.token, "text": "Meine Abgabe", "aktion": "einreichen"},
    )
    assert handed_in.status_code == 303
    download = client.get(f"/abgabe/datei/{stored.id}", query_string={"lt": lotse.token})
    assert download.status_code == 200
    download.close()
    for path in (
        "/module/b9-test/einheit/lesen/gelesen",
        "/module/b9-test/einheit/wissenstest/quiz",
        "/module/b9-test/einheit/aufgabe/abgabe",
    ):
        assert client.post(path, data={"lt": lotse.token}).status_code == 403
        assert client.post("/api" + path, json={}, headers=lotse.headers).status_code == 403
    assert client.get("/module", query_string={"lt": lotse.token}).status_code == 403
    assert client.get("/api/module", headers=lotse.headers).status_code == 403


def test_a_lotse_of_another_course_cannot_download(app, client):
    make_module("b9-test")
    owner = http_launch(client, sub="navigatorin", module_id="b9-test")
    client.get(owner.location)
    stored = _submit_with_file(client, owner.token)
    stranger = http_launch(
        client, sub="l-x", lotse=True, context_id="course-2", resource_link_id="x"
    )
    download = client.get(f"/abgabe/datei/{stored.id}", query_string={"lt": stranger.token})
    assert download.status_code == 404


def test_modules_of_other_courses_are_only_described_and_unknown_units_are_404(app, client):
    make_module("b9-test")
    make_module("c9-test")
    here = http_launch(client, module_id="b9-test")
    client.get(here.location)
    elsewhere = http_launch(
        client, sub="n2", module_id="c9-test", context_id="course-2", resource_link_id="l2"
    )
    client.get(elsewhere.location)
    # A cross-reference to a module of the catalogue that this course does not hold gets its
    # description (the catalogue is no secret), never another course's units or progress.
    for path in ("/module/c9-test", "/module/c9-test/einheit/lesen"):
        page = client.get(path, query_string={"lt": here.token})
        assert page.status_code == 200
        assert "nicht Teil Ihres Kurses" in page.text
        assert "/module/c9-test/einheit/" not in page.text and "course-2" not in page.text
    for path in ("/module/b9-test/einheit/x", "/module/c9-test/einheit/x", "/module/gibt-es-nicht"):
        assert client.get(path, query_string={"lt": here.token}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(UnitProgress)) == 0
    assert client.get("/api/module/c9-test", headers=here.headers).status_code == 404
    assert (
        client.post(
            "/api/module/c9-test/einheit/wissenstest/quiz",
            json={"answers": RIGHT},
            headers=here.headers,
        ).status_code
        == 404
    )
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


def test_pages_need_a_launch_token(app, client):
    make_module("b9-test")
    assert client.get("/module").status_code == 401
    assert client.get("/module", query_string={"lt": "gefälscht"}).status_code == 401
    assert client.post("/api/module/b9-test/einheit/lesen/gelesen", json={}).status_code == 401
    nav = http_launch(client, module_id="b9-test")
    client.get(nav.location)
    # On POST the token in the query string does not count (a forged link must not act).
    forged = client.post("/module/b9-test/einheit/lesen/gelesen", query_string={"lt": nav.token})
    assert forged.status_code == 401
