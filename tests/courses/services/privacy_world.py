"""A course in use, for the privacy tests: two Navigatoren and a Lotse who did everything a person
can leave in the tool, through the tool's own pages, with names, e-mail addresses, texts and
files that each belong to one person only (so a test can search every table and file for them).

Anna works in two courses; Bruno and the Lotsin Lena in the first only. Lena is granted the
Lotse role by an admin, refreshed the roster, graded both submissions and set Bruno's
municipality."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from courses.models import Submission, SubmissionFile
from courses.services import roles
from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser, Registration
from tests import factories as f
from tests.courses.conftest import TokenClient


@dataclass
class Person:
    """One person of the world and everything that is theirs alone."""

    sub: str
    name: str
    email: str
    text: str = ""
    file_name: str = ""
    file_marker: bytes = b""
    tokens: dict[str, str] = field(default_factory=dict)
    """Launch token per course (``kurs-1``, ``kurs-2``)."""

    @property
    def markers(self) -> tuple[str, ...]:
        """What may appear nowhere once the person is erased."""
        values = (self.sub, self.name, self.email, self.text, self.file_name)
        return tuple(v for v in values if v)

    def user(self, registration: Registration) -> LtiUser:
        found = db.session.scalars(
            select(LtiUser).where(
                LtiUser.registration_pk == registration.id, LtiUser.sub == self.sub
            )
        ).one()
        return found


ANNA = Person(
    sub="sub-anna-7f3a9c",
    name="Anna Auskunft",
    email="anna.auskunft@kommune.example",
    text="ANNA-TEXT-4711: Die Hundesteuer wird bei uns noch auf Papier beantragt.",
    file_name="anna-ist-prozess.pdf",
    file_marker=b"ANNA-DATEI-4711",
)
BRUNO = Person(
    sub="sub-bruno-2b8d1e",
    name="Bruno Bleibt",
    email="bruno.bleibt@kommune.example",
    text="BRUNO-TEXT-0815: Unser Antrag läuft schon über Amt24.",
    file_name="bruno-soll-prozess.pdf",
    file_marker=b"BRUNO-DATEI-0815",
)
LENA = Person(sub="sub-lena-9c4e5a", name="Lena Lotsin", email="lena.lotsin@hsf.example")
#: What Lena wrote to Anna and to Bruno (their data: it stays with them when Lena is erased).
FEEDBACK = {ANNA.sub: "Rueckmeldung-fuer-Anna-31", BRUNO.sub: "Rueckmeldung-fuer-Bruno-32"}


@dataclass
class World:
    registration: Registration
    other_platform: Registration
    course: LtiContext
    second_course: LtiContext
    submissions: dict[str, int]
    files: dict[str, int]


def _work(tc: TokenClient, person: Person, token: str, *, assignment: bool = True) -> None:
    """Reading, quiz and (optionally) the assignment with a file, through the pages."""
    assert tc.get("/module/b1/einheit/lesen", token).status_code == 200
    assert tc.post("/module/b1/einheit/lesen/gelesen", token).status_code == 303
    answers = {f"antwort-{q}": v for q, v in f.RIGHT.items()}
    assert tc.post("/module/b1/einheit/wissenstest/quiz", token, answers).status_code == 303
    if not assignment:
        return
    pdf = b"%PDF-1.7\n% " + person.file_marker + b"\n%%EOF\n"
    saved = tc.post(
        "/module/b1/einheit/aufgabe/abgabe",
        token,
        {
            "text": person.text,
            "aktion": "einreichen",
            "dateien": [(io.BytesIO(pdf), person.file_name)],
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:500]


def build(tc: TokenClient) -> World:
    """The world (commits). The Navigatoren choose their municipality, so every table that can
    hold something of a person holds something."""
    moodle = f.platform()
    other = f.platform(name="Anderes LMS", issuer="https://anderes.example", client_id="c-2")
    module = f.make_module("b1")
    extra = f.make_module("b2", position=2, units=(("lesen", "reading"),))
    for person, context_id, lotse in (
        (ANNA, "kurs-1", False),
        (BRUNO, "kurs-1", False),
        (LENA, "kurs-1", True),
        (ANNA, "kurs-2", False),
    ):
        started = f.launch(
            moodle,
            person.sub,
            lotse=lotse,
            context_id=context_id,
            name=person.name,
            email=person.email,
            resource_link_id=f"link-{context_id}",
            # A substituted personal value, as Moodle sends $Person.address.locality.
            custom={"ort": f"Ort von {person.name}"},
        )
        person.tokens[context_id] = started.token
    # A stranger on another platform with the same sub as Anna: another person.
    f.launch(other, ANNA.sub, context_id="kurs-1", name="Fremde Person")
    course = db.session.scalars(
        select(LtiContext).where(
            LtiContext.registration_pk == moodle.id, LtiContext.context_id == "kurs-1"
        )
    ).one()
    second = db.session.scalars(
        select(LtiContext).where(
            LtiContext.registration_pk == moodle.id, LtiContext.context_id == "kurs-2"
        )
    ).one()
    anna, bruno = ANNA.user(moodle), BRUNO.user(moodle)
    f.place(course, module)
    f.place(course, extra, members=[anna, bruno])
    f.place(second, module)
    roles.grant(moodle, LENA.sub, "Lotsin der HSF")
    db.session.commit()

    for person in (ANNA, BRUNO):
        token = person.tokens["kurs-1"]
        chosen = tc.post("/gemeinde", token, {"gemeinde": "Pirna"})
        assert chosen.status_code == 303, chosen.get_data(as_text=True)[:300]
        _work(tc, person, token)
    _work(tc, ANNA, ANNA.tokens["kurs-2"], assignment=False)

    lotse = LENA.tokens["kurs-1"]
    assert tc.get("/lotse/teilnehmende", lotse).status_code == 200
    submissions, files = {}, {}
    for person in (ANNA, BRUNO):
        user = person.user(moodle)
        submission = db.session.scalars(
            select(Submission).where(Submission.user_pk == user.id)
        ).one()
        graded = tc.post(
            f"/lotse/bewertung/{submission.id}",
            lotse,
            {
                "punkte-vollstaendig": "5",
                "punkte-bezug": "3",
                "entscheidung": "bewertet",
                "rueckmeldung": FEEDBACK[person.sub],
            },
        )
        assert graded.status_code == 303, f.text_of(graded.data)[:1500]
        submissions[person.sub] = submission.id
        files[person.sub] = db.session.scalars(
            select(SubmissionFile.id).where(SubmissionFile.submission_pk == submission.id)
        ).one()
    corrected = tc.post(f"/lotse/teilnehmende/{bruno.id}/gemeinde", lotse, {"gemeinde": "Riesa"})
    assert corrected.status_code == 303, corrected.get_data(as_text=True)[:300]
    db.session.commit()
    return World(moodle, other, course, second, submissions, files)


def database_text() -> dict[str, list[str]]:
    """Every row of every table as text, per table (JSON values written out)."""
    db.session.rollback()
    found: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        rows = []
        for row in db.session.execute(select(table)):
            rows.append(
                " | ".join(
                    json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v)
                    for v in row
                )
            )
        found[table.name] = rows
    return found


def where_found(markers: tuple[str, ...]) -> list[str]:
    """``table: marker`` for each table that holds one of ``markers`` in any column."""
    hits = []
    for table, rows in database_text().items():
        for marker in markers:
            if any(marker in row for row in rows):
                hits.append(f"{table}: {marker}")
    return hits


def upload_files() -> dict[Path, bytes]:
    """Every file under UPLOAD_FOLDER with its bytes."""
    root = Path(current_app.config["UPLOAD_FOLDER"])
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def row_counts() -> dict[str, int]:
    """Rows per table (a dry run changes none)."""
    db.session.rollback()
    return {
        table.name: len(db.session.execute(select(table)).all())
        for table in db.metadata.sorted_tables
    }


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
