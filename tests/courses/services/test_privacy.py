"""The DSGVO rights in :mod:`courses.services.privacy` and ``flask courses privacy``: the export
holds everything of one person and nothing of anyone else; after erasure no row and no file holds
the person's sub, name, e-mail or text, while other people's data and the gradebook sync of
everybody else keep working; the retention rule purges ended courses only, and its dry run
changes nothing; every export and deletion leaves an audit row without content; bad input to the
commands changes nothing."""

from __future__ import annotations

import io
import json
import os
import stat
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select, update

from config.settings import ConfigurationError, load_settings
from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from courses.models import (
    CourseMembership,
    GradebookOutbox,
    GradingDecision,
    LotseGrant,
    NavigatorMunicipality,
    PrivacyAudit,
    QuizAttempt,
    RosterSync,
    Submission,
    SubmissionFile,
    UnitProgress,
)
from courses.services import privacy
from courses.services.submissions import review_of
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiResourceLink, LtiUser, utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient
from tests.courses.gradebook import conftest as gradebook_fixtures
from tests.courses.gradebook.conftest import COMPLETED, drain, outbox_rows, seed_course
from tests.courses.services.privacy_world import (
    ANNA,
    BRUNO,
    FEEDBACK,
    LENA,
    World,
    build,
    row_counts,
    upload_files,
    where_found,
)

# The gradebook tests' fixtures: the tool on a real port and the AGS test platform.
gb_app = gradebook_fixtures.gb_app
tool = gradebook_fixtures.tool
platform = gradebook_fixtures.platform


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    return build(TokenClient(client))


# --- which tables hold a person ---------------------------------------------------------------


def test_every_reference_to_a_person_is_handled(sqlite_app: Flask) -> None:
    """A new table that refers to a person (a foreign key to lti_user, a sub column, a row that
    hangs under a person's row) fails here until erasure and export know it."""
    tables = db.metadata.sorted_tables
    references = {
        (table.name, column.name)
        for table in tables
        for column in table.columns
        for key in column.foreign_keys
        if key.column.table.name == "lti_user"
    }
    assert references == set(privacy.PERSON_REFERENCES)
    subs = {(t.name, c.name) for t in tables for c in t.columns if c.name == "sub"}
    assert subs == privacy.SUB_COLUMNS
    deleted = {t for (t, _c), how in privacy.PERSON_REFERENCES.items() if how == "delete"}
    below = {
        (table.name, column.name)
        for table in tables
        for column in table.columns
        for key in column.foreign_keys
        if key.column.table.name in deleted
    }
    assert below == privacy.DEPENDENT_ROWS


# --- export ------------------------------------------------------------------------------------


def _count(model: type, **where: object) -> int:
    query = select(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return len(db.session.scalars(query).all())


def test_export_holds_everything_of_the_person_and_nothing_of_others(world: World) -> None:
    anna = ANNA.user(world.registration)
    document = privacy.personal_data(anna)
    counts = document["counts"]
    # Every row of every table that refers to Anna is in it.
    for model, key in (
        (Launch, "launch"),
        (CourseMembership, "course_membership"),
        (UnitProgress, "unit_progress"),
        (QuizAttempt, "quiz_attempt"),
        (Submission, "submission"),
        (GradebookOutbox, "gradebook_outbox"),
        (NavigatorMunicipality, "navigator_municipality"),
    ):
        assert counts[key] == _count(model, user_pk=anna.id) > 0, key
    assert counts["course_module_member"] == 1
    assert counts["submission_file"] == counts["grading_decision"] == 1
    assert counts["decisions_made"] == 0 and counts["lotse_grant"] == 0
    # Both courses, through one person.
    assert {c["context_id"] for c in document["courses"]} == {"kurs-1", "kurs-2"}
    assert len(document["launches"]) == 2

    text = privacy.to_json(document)
    parsed = json.loads(text)
    assert parsed["format"] == "lotsen-lti/personal-data" and parsed["format_version"] == 1
    assert datetime.fromisoformat(parsed["generated_at"]).tzinfo is not None
    for value in (*ANNA.markers, FEEDBACK[ANNA.sub], "Pirna", "Ort von Anna Auskunft"):
        assert value in text, value
    assert parsed["submissions"][0]["files"][0]["name"] == ANNA.file_name
    assert [a["answers"] for a in parsed["quiz_attempts"]] == [f.RIGHT, f.RIGHT]
    # Nothing of Bruno, of the Lotsin or of the stranger with the same sub elsewhere.
    for value in (*BRUNO.markers, FEEDBACK[BRUNO.sub], LENA.sub, LENA.name, "Fremde Person"):
        assert value not in text, value


def test_export_of_a_lotse_names_no_navigator(world: World) -> None:
    lena = LENA.user(world.registration)
    document = privacy.personal_data(lena)
    assert document["counts"]["decisions_made"] == 2
    assert document["lotse_grant"]["note"] == "Lotsin der HSF"
    assert document["municipalities_corrected"] == 1
    assert [launch["refreshed_roster"] for launch in document["launches"]] == [True]
    assert {d["feedback"] for d in document["decisions_made"]} == set(FEEDBACK.values())
    text = privacy.to_json(document)
    assert LENA.email in text
    for value in (*ANNA.markers, *BRUNO.markers, "Riesa"):
        assert value not in text, value


# --- erasure -----------------------------------------------------------------------------------


def _erase(user: LtiUser) -> privacy.Erasure:
    erasure = privacy.erase(user, actor=privacy.PrivacyActor.CLI, actor_ref="admin")
    db.session.commit()
    privacy.remove_files(erasure.paths)
    return erasure


def test_after_erasure_no_row_and_no_file_holds_the_person(world: World) -> None:
    before = upload_files()
    assert any(ANNA.file_marker in content for content in before.values())
    anna = ANNA.user(world.registration)
    erasure = _erase(anna)

    # The only row left with Anna's sub is the stranger's: another platform, another person.
    assert where_found(ANNA.markers) == [f"lti_user: {ANNA.sub}"]
    stranger = db.session.scalars(select(LtiUser).where(LtiUser.sub == ANNA.sub)).one()
    assert stranger.registration_pk == world.other_platform.id
    assert where_found(("Ort von Anna",)) == []  # also out of the links' custom parameters
    assert where_found((FEEDBACK[ANNA.sub],)) == []
    after = upload_files()
    assert not any(ANNA.file_marker in content for content in after.values())
    assert set(before) - set(after) == {p for p, c in before.items() if ANNA.file_marker in c}
    assert privacy.find_person(world.registration, ANNA.sub) is None

    # Everybody else keeps everything.
    bruno = BRUNO.user(world.registration)
    submission = db.session.get(Submission, world.submissions[BRUNO.sub])
    assert submission is not None and submission.text == BRUNO.text
    decision = db.session.scalars(
        select(GradingDecision).where(GradingDecision.submission_pk == submission.id)
    ).one()
    assert decision.lotse_pk == LENA.user(world.registration).id
    assert any(BRUNO.file_marker in content for content in after.values())
    assert _count(GradebookOutbox, user_pk=bruno.id) > 0
    link = db.session.scalars(
        select(LtiResourceLink).where(
            LtiResourceLink.registration_pk == world.registration.id,
            LtiResourceLink.resource_link_id == "link-kurs-1",
        )
    ).one()
    assert link.custom == {"ort": "Ort von Lena Lotsin"}  # the newest remaining launch's

    # Recorded: what and how much, for whom as a keyed hash only.
    audit = db.session.scalars(select(PrivacyAudit)).one()
    assert (audit.action, audit.actor, audit.actor_ref) == ("erasure", "cli", "admin")
    assert audit.subject_ref == privacy.subject_ref(world.registration.id, ANNA.sub)
    assert ANNA.sub not in audit.subject_ref
    assert audit.counts["submission"] == 1 and audit.counts["file"] == 1
    assert audit.counts["launch"] == 2 and audit.counts["lti_user"] == 1
    assert erasure.pending_scores > 0  # her scores had not been delivered: they are dropped


def test_erasing_a_lotse_keeps_their_decisions_for_the_people_they_graded(
    world: World, client: FlaskClient
) -> None:
    lena = LENA.user(world.registration)
    _erase(lena)
    assert where_found(LENA.markers) == []
    assert where_found(("Ort von Lena",)) == []
    for person in (ANNA, BRUNO):
        submission = db.session.get(Submission, world.submissions[person.sub])
        assert submission is not None
        decision = db.session.scalars(
            select(GradingDecision).where(GradingDecision.submission_pk == submission.id)
        ).one()
        assert decision.lotse_pk is None and decision.feedback == FEEDBACK[person.sub]
        review = review_of(submission)
        assert review is not None and review.points == 8.0
    municipality = db.session.get(NavigatorMunicipality, BRUNO.user(world.registration).id)
    assert municipality is not None and municipality.name.startswith("Riesa")
    assert municipality.updated_by_pk is None
    assert db.session.get(RosterSync, world.course.id).last_launch_id is None
    assert db.session.scalars(select(LotseGrant)).all() == []
    # Bruno still reads his review on his page.
    page = TokenClient(client).get("/module/b1/einheit/aufgabe", BRUNO.tokens["kurs-1"])
    assert page.status_code == 200 and FEEDBACK[BRUNO.sub] in page.get_data(as_text=True)


@pytest.mark.e2e
def test_the_gradebook_keeps_delivering_for_everyone_else(gb_app: Flask, platform) -> None:  # type: ignore[no-untyped-def]
    """Over real HTTP to the AGS test platform: after one Navigator is erased (with a score
    still pending), another Navigator's new score reaches the LMS."""
    course = seed_course(platform, modules=1, users=2)
    course.enqueue_all(COMPLETED)
    drain()
    gone, stays = course.user_ids
    cm = course.course_module_ids[0]
    enqueue_score(gone, cm, ScoreState("Completed", "FullyGraded", 40, 100))
    db.session.commit()
    user = db.session.get(LtiUser, gone)
    assert user is not None
    erasure = _erase(user)
    assert erasure.pending_scores == 1 and erasure.counts["gradebook_outbox"] == 1
    posts_before = len(platform.score_posts)

    enqueue_score(stays, cm, ScoreState("Completed", "FullyGraded", 90, 100))
    db.session.commit()
    drain()
    rows = outbox_rows()
    assert [r.user_pk for r in rows] == [stays] and rows[0].state == "delivered"
    lineitem = rows[0].course_module.lineitem_url
    grade = platform.grade(lineitem, course.subs[stays])
    assert grade is not None and grade["scoreGiven"] == 90
    new_posts = platform.score_posts[posts_before:]
    assert [p.user_id for p in new_posts] == [course.subs[stays]]


# --- retention ---------------------------------------------------------------------------------


def _age(context_pk: int, days: int) -> None:
    """Make the launches of a course, and its people's first and last visits, ``days`` old."""
    old = utcnow() - timedelta(days=days)
    db.session.execute(update(Launch).where(Launch.context_pk == context_pk).values(created_at=old))
    db.session.execute(update(LtiUser).values(created_at=old, last_launch_at=old))
    db.session.commit()


def test_retention_purges_ended_courses_and_the_dry_run_changes_nothing(world: World) -> None:
    bruno = BRUNO.user(world.registration)
    anna = ANNA.user(world.registration)
    # Bruno's scores reached the LMS (one failed for good); Anna's are still pending.
    db.session.execute(
        update(GradebookOutbox).where(GradebookOutbox.user_pk == bruno.id).values(state="delivered")
    )
    db.session.commit()
    _age(world.course.id, 400)
    counts, files = row_counts(), upload_files()

    dry = privacy.purge_expired(days=365, dry_run=True, actor_ref="cron")
    db.session.rollback()
    assert dry.courses == [world.course.id]
    assert dry.counts["submission"] == 2 and dry.counts["file"] == 2
    assert dry.counts["launch"] == 3  # Anna, Bruno and Lena in kurs-1
    assert row_counts() == counts and upload_files() == files

    result = privacy.purge_expired(days=365, actor_ref="cron")
    db.session.commit()
    privacy.remove_files(result.paths)
    assert result.counts == dry.counts

    course = world.course.id
    for model in (Launch, UnitProgress, QuizAttempt, Submission, CourseMembership):
        assert _count(model, context_pk=course) == 0, model.__tablename__
    assert db.session.scalars(select(SubmissionFile)).all() == []
    assert upload_files() == {}
    # Pending scores stay until delivered; delivered ones are gone.
    remaining = outbox_rows()
    assert remaining and {r.user_pk for r in remaining} == {anna.id}
    assert {r.state for r in remaining} == {"pending"}
    # Anna works in the second course: she and her data there stay. Bruno and Lena are gone.
    assert privacy.find_person(world.registration, ANNA.sub) is not None
    assert _count(UnitProgress, context_pk=world.second_course.id) > 0
    assert privacy.find_person(world.registration, BRUNO.sub) is None
    assert privacy.find_person(world.registration, LENA.sub) is None
    # Only the admin's Lotse grant stays (an admin's decision, revoked by the admin).
    assert where_found((*BRUNO.markers, *LENA.markers)) == [f"lotse_grant: {LENA.sub}"]
    # The other platform's course was used recently: the stranger stays.
    assert db.session.scalars(select(LtiUser).where(LtiUser.sub == ANNA.sub)).all()
    audit = db.session.scalars(select(PrivacyAudit)).one()
    assert (audit.action, audit.actor, audit.actor_ref) == ("retention", "cli", "cron")
    assert audit.counts["courses"] == [course] and audit.subject_ref is None

    # Nothing more to do: no second audit row.
    again = privacy.purge_expired(days=365, actor_ref="cron")
    db.session.commit()
    assert again.total == 0 and _count(PrivacyAudit) == 1


def test_a_course_ends_with_its_lms_end_date_or_its_last_launch(app: Flask) -> None:
    moodle = f.platform()
    future = (utcnow() + timedelta(days=30)).isoformat()
    running = f.launch(moodle, "nav-1", context_id="laeuft", custom={"kursende": future})
    ended = f.launch(moodle, "nav-2", context_id="beendet", custom={"kursende": "31.01.2020"})
    plain = f.launch(moodle, "nav-3", context_id="ohne-datum")
    courses = [started.context.id for started in (running, ended, plain)]
    for course in courses:
        _age(course, 400)
    ends = {end.context_pk: end for end in privacy.course_ends()}
    assert ends[courses[0]].source == "lms" and ends[courses[0]].ends_at > utcnow()
    # An end date before the last launch: the course was used after it, the launch counts.
    assert ends[courses[1]].ends_at > datetime(2020, 2, 1, tzinfo=UTC)
    assert ends[courses[2]].source == "launch"
    result = privacy.purge_expired(days=365)
    db.session.commit()
    assert result.courses == courses[1:]
    assert _count(Launch, context_pk=courses[0]) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-31T21:59:59+00:00", datetime(2027, 3, 31, 21, 59, 59, tzinfo=UTC)),
        ("2027-03-31T23:59:59Z", datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC)),
        ("2027-03-31", datetime(2027, 3, 31, 22, 0, tzinfo=UTC)),  # midnight in Berlin (CEST)
        ("31.01.2027", datetime(2027, 1, 31, 23, 0, tzinfo=UTC)),  # (CET)
        ("", None),
        ("$CourseSection.timeFrame.end", None),
        ("bald", None),
        ("31.02.2027", None),
        (None, None),
    ],
)
def test_the_end_dates_an_lms_sends(value: object, expected: datetime | None) -> None:
    assert privacy.parse_course_end(value) == expected


def test_stray_uploads_go_after_a_day(app: Flask) -> None:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "7"
    folder.mkdir(parents=True)
    old, young = folder / ".incoming-alt", folder / "neu"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    dry = privacy.purge_expired(days=30, dry_run=True)
    db.session.rollback()
    assert dry.counts == {"stray_file": 1} and old.exists()
    result = privacy.purge_expired(days=30)
    db.session.commit()
    privacy.remove_files(result.paths)
    assert not old.exists() and young.exists()


def test_the_retention_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETENTION_DAYS_AFTER_COURSE_END", raising=False)
    assert load_settings("testing")["RETENTION_DAYS_AFTER_COURSE_END"] is None
    monkeypatch.setenv("RETENTION_DAYS_AFTER_COURSE_END", "365")
    assert load_settings("testing")["RETENTION_DAYS_AFTER_COURSE_END"] == 365
    for wrong in ("0", "-3", "ein Jahr", "1.5"):
        monkeypatch.setenv("RETENTION_DAYS_AFTER_COURSE_END", wrong)
        with pytest.raises(ConfigurationError, match="ganze Zahl von Tagen"):
            load_settings("testing")


# --- the commands ------------------------------------------------------------------------------


def _cli(app: Flask, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["courses", "privacy", *args], input=input)
    db.session.rollback()
    return result


def test_export_command_writes_json_html_and_zip(world: World, app: Flask, tmp_path: Path) -> None:
    person = ["--platform", "Moodle HSF", "--sub", ANNA.sub]
    shown = _cli(app, "export", *person)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["person"]["email"] == ANNA.email

    target = tmp_path / "anna.json"
    written = _cli(app, "export", *person, "--out", str(target))
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text())["person"]["sub"] == ANNA.sub
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    page = tmp_path / "anna.html"
    assert _cli(app, "export", *person, "--out", str(page)).exit_code == 0
    html = page.read_text()
    assert html.startswith("<!doctype html>") and 'lang="de"' in html and ANNA.text in html
    assert html.count("<h1") == 1 and "<script" not in html

    bundle = tmp_path / "anna.zip"
    assert _cli(app, "export", *person, "--out", str(bundle)).exit_code == 0
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as archive:
        names = archive.namelist()
        stored = next(n for n in names if n.startswith("dateien/"))
        assert ANNA.file_marker in archive.read(stored)
    assert {"daten.json", "zusammenfassung.html"} <= set(names)
    assert stored == f"dateien/{world.files[ANNA.sub]}-{ANNA.file_name}"

    audits = db.session.scalars(select(PrivacyAudit).order_by(PrivacyAudit.id)).all()
    assert [a.format for a in audits] == ["json", "json", "html", "zip"]
    assert {(a.action, a.actor) for a in audits} == {("export", "cli")}
    assert all(a.counts["submission"] == 1 for a in audits)
    # Her own export shows them to her.
    log = privacy.personal_data(ANNA.user(world.registration))["privacy_log"]
    assert [entry["format"] for entry in log] == ["json", "json", "html", "zip"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "Gibt es nicht", "--sub", ANNA.sub], "Gibt es nicht"),
        (["--platform", "Moodle HSF", "--sub", "niemand"], "keine Person mit der Kennung"),
        (["--platform", "Moodle HSF", "--sub", "  "], "--sub darf nicht leer sein"),
    ],
)
@pytest.mark.parametrize("command", ["export", "erase"])
def test_commands_refuse_unknown_people_and_change_nothing(
    world: World, app: Flask, command: str, args: list[str], message: str
) -> None:
    before = row_counts()
    result = _cli(app, command, *args, "--yes" if command == "erase" else "--out=/dev/null")
    assert result.exit_code == 1
    assert message in result.output
    assert row_counts() == before


def test_export_never_overwrites_a_file(world: World, app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "schon-da.json"
    target.write_text("bleibt")
    before = row_counts()
    result = _cli(
        app, "export", "--platform", "Moodle HSF", "--sub", ANNA.sub, "--out", str(target)
    )
    assert result.exit_code == 1 and "existiert schon" in result.output
    assert target.read_text() == "bleibt" and row_counts() == before
    missing = _cli(
        app, "export", "--platform", "Moodle HSF", "--sub", ANNA.sub, "--out", "/gibt/es/nicht.json"
    )
    assert missing.exit_code == 1 and "gibt es nicht" in missing.output


def test_erase_command_asks_for_the_word_and_then_erases(world: World, app: Flask) -> None:
    person = ["--platform", "Moodle HSF", "--sub", ANNA.sub]
    before, files = row_counts(), upload_files()
    for answer in ("", "ja", "y"):
        refused = _cli(app, "erase", *person, input=answer + "\n")
        assert refused.exit_code == 1, refused.output
        assert "Abgebrochen. Nichts gelöscht." in refused.output
        assert row_counts() == before and upload_files() == files
    assert "noch nicht ans LMS übertragen" in refused.output
    assert "Abgaben von Praxisaufgaben: 1" in refused.output

    done = _cli(app, "erase", *person, input="löschen\n")
    assert done.exit_code == 0, done.output
    assert privacy.find_person(world.registration, ANNA.sub) is None
    assert not any(ANNA.file_marker in c for c in upload_files().values())
    assert _cli(app, "erase", *person, "--yes").exit_code == 1  # gone: nothing left to erase

    listed = _cli(app, "audit", *person)
    assert listed.exit_code == 0 and "erasure" in listed.output and ANNA.sub not in listed.output
    assert _cli(app, "audit", "--platform", "Moodle HSF").exit_code == 1


def test_purge_command_needs_the_setting_and_has_a_dry_run(world: World, app: Flask) -> None:
    _age(world.course.id, 400)
    before, files = row_counts(), upload_files()
    refused = _cli(app, "purge")
    assert refused.exit_code == 1
    assert "RETENTION_DAYS_AFTER_COURSE_END ist nicht gesetzt" in refused.output
    assert row_counts() == before

    app.config["RETENTION_DAYS_AFTER_COURSE_END"] = 365
    dry = _cli(app, "purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert (
        "Probelauf, nichts gelöscht" in dry.output and "Abgaben von Praxisaufgaben: 2" in dry.output
    )
    assert row_counts() == before and upload_files() == files

    done = _cli(app, "purge")
    assert done.exit_code == 0, done.output
    assert "Gelöscht:" in done.output and _count(Submission) == 0 and upload_files() == {}
    assert _cli(app, "purge").output.strip().endswith("Gelöscht: nichts.")
