"""Uploads: types checked by content, size and count limits, hostile names. A refused upload
stores nothing (no file on disk, no row) and never costs the text answer."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from courses.models import Submission, SubmissionFile
from courses.services.submissions import UploadRefused, accept_uploads, discard, sanitise_filename
from lti_tool.extensions import db
from tests.factories import http_launch, make_module, text_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\0" * 48
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\0" * 32
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\0" * 64
BPMN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d1">'
    b'<bpmn:process id="p1"/></bpmn:definitions>'
)
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
)


def _zip(entries: dict[str, bytes], *, stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (name, data) in enumerate(entries.items()):
            kind = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return buffer.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
PPTX = _zip({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"})
ODT = _zip(
    {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"},
    stored_first=True,
)
ODS = _zip(
    {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<o/>"},
    stored_first=True,
)


OOXML = "application/vnd.openxmlformats-officedocument"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _check(name: str, data: bytes) -> str:
    """The stored content type of one upload, or the refusal message."""
    try:
        [upload] = accept_uploads(
            [FileStorage(io.BytesIO(data), filename=name)], context_pk=1, existing_count=0
        )
    except UploadRefused as refused:
        return refused.messages[0]
    discard([upload])
    return upload.content_type


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("Soll-Prozess.pdf", PDF, "application/pdf"),
        ("skizze.PNG", PNG, "image/png"),
        ("foto.jpg", JPEG, "image/jpeg"),
        ("foto.jpeg", JPEG, "image/jpeg"),
        ("grafik.gif", GIF, "image/gif"),
        ("prozess.bpmn", BPMN, "application/xml"),
        ("daten.xml", b"<?xml version='1.0'?><leistungen/>", "application/xml"),
        ("bericht.docx", DOCX, f"{OOXML}.wordprocessingml.document"),
        ("tabelle.xlsx", XLSX, f"{OOXML}.spreadsheetml.sheet"),
        ("folien.pptx", PPTX, f"{OOXML}.presentationml.presentation"),
        ("text.odt", ODT, "application/vnd.oasis.opendocument.text"),
        ("tabelle.ods", ODS, "application/vnd.oasis.opendocument.spreadsheet"),
        ("notizen.txt", "Grüße aus Meißen\n".encode(), "text/plain; charset=utf-8"),
        ("liste.csv", "Leistung;Stufe\nMüllabfuhr;3\n".encode("cp1252"), "text/csv; charset=utf-8"),
    ],
)
def test_allowed_types_are_recognised_by_content(sqlite_app, name, data, content_type):
    assert _check(name, data) == content_type
    assert _files(Path(sqlite_app.config["UPLOAD_FOLDER"])) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("kein.pdf", b"Das ist nur Text.", "passt nicht zur Endung .pdf"),
        ("bild.png", EXE, "passt nicht zur Endung .png"),
        ("bild.png", JPEG, "passt nicht zur Endung .png"),
        ("text.txt", EXE, "passt nicht zur Endung .txt"),
        ("text.txt", PNG, "passt nicht zur Endung .txt"),
        ("bericht.docx", _zip({"word/document.xml": b"x"}), "passt nicht zur Endung .docx"),
        ("tabelle.xlsx", DOCX, "passt nicht zur Endung .xlsx"),
        ("text.odt", ODS, "passt nicht zur Endung .odt"),
        ("prozess.bpmn", b"<?xml version='1.0'?><definitions/>", "passt nicht zur Endung .bpmn"),
        ("daten.xml", ENTITY_BOMB, "passt nicht zur Endung .xml"),
        ("daten.xml", b"<offen>", "passt nicht zur Endung .xml"),
        ("programm.exe", EXE, "Dateien dieses Typs sind nicht erlaubt"),
        ("ohne-endung", PDF, "Dateien dieses Typs sind nicht erlaubt"),
        ("../../etc/passwd", b"root:x:0:0", "Pfadangaben"),
        ("..\\..\\boot.pdf", PDF, "Pfadangaben"),
        ("/etc/cron.d/job.txt", b"x", "Pfadangaben"),
        ("leer.pdf", b"", "ist leer"),
    ],
)
def test_wrong_content_and_hostile_names_are_refused(sqlite_app, name, data, message):
    assert message in _check(name, data)
    assert _files(Path(sqlite_app.config["UPLOAD_FOLDER"])) == []


def test_display_names_are_sanitised():
    assert sanitise_filename("  .versteckt.pdf") == "versteckt.pdf"
    assert sanitise_filename('a<b>:"c|?*.pdf') == "a_b___c___.pdf"
    assert sanitise_filename("zeile\nbruch\x00.pdf") == "zeilebruch.pdf"
    long = sanitise_filename("x" * 300 + ".docx")
    assert len(long) == 150 and long.endswith(".docx")
    assert sanitise_filename("...") == "datei"


ASSIGNMENT = "/module/b9-test/einheit/aufgabe"
TEXT = "Mein sorgfältig geschriebener Text, der nicht verloren gehen darf."


@pytest.fixture
def nav(app, client):  # type: ignore[no-untyped-def]
    make_module("b9-test")
    launched = http_launch(client, module_id="b9-test")
    client.get(launched.location)
    return launched


def _post(client, token: str, files: list[tuple[bytes, str]], action: str = "einreichen"):  # type: ignore[no-untyped-def]
    return client.post(
        ASSIGNMENT + "/abgabe",
        data={
            "lt": token,
            "text": TEXT,
            "aktion": action,
            "dateien": [(io.BytesIO(data), name) for data, name in files],
        },
        content_type="multipart/form-data",
    )


def _assert_nothing_stored_but_the_text(app, response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422
    page = text_of(response.data)
    assert "Ihr Text ist als Entwurf gespeichert." in page
    assert "Die Abgabe ist noch nicht eingereicht." in page
    assert TEXT in response.data.decode()  # back in the text area
    submission = db.session.scalars(select(Submission)).one()
    assert (submission.text, submission.state) == (TEXT, "draft")
    assert db.session.scalar(select(func.count()).select_from(SubmissionFile)) == 0
    assert _files(Path(app.config["UPLOAD_FOLDER"])) == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([(b"Nur Text", "a.pdf")], "„a.pdf“: Der Inhalt der Datei passt nicht zur Endung .pdf"),
        ([(EXE, "foto.png")], "passt nicht zur Endung .png"),
        ([(PDF, "../../etc/passwd")], "Der Dateiname enthält Pfadangaben"),
        ([(PDF, "../x.pdf")], "Der Dateiname enthält Pfadangaben"),
        ([(PDF, "/etc/x.pdf")], "Der Dateiname enthält Pfadangaben"),
        ([(EXE, "setup.exe")], "Dateien dieses Typs sind nicht erlaubt"),
        # One good and one bad file: neither is stored.
        ([(PDF, "gut.pdf"), (b"MZ", "schlecht.pdf")], "keine der Dateien übernommen"),
    ],
)
def test_refused_upload_keeps_the_text_and_stores_nothing(app, client, nav, files, message):
    response = _post(client, nav.token, files)
    assert message in text_of(response.data)
    _assert_nothing_stored_but_the_text(app, response)


def test_too_large_file_is_refused_with_the_limit(app, client, nav):
    app.config["MAX_UPLOAD_BYTES"] = 2048
    response = _post(client, nav.token, [(PDF + b"0" * 2048, "gross.pdf")])
    message = "„gross.pdf“ ist zu groß. Erlaubt sind höchstens 2 KB je Datei."
    assert message in text_of(response.data)
    _assert_nothing_stored_but_the_text(app, response)


def test_too_many_files_are_refused(app, client, nav):
    app.config["MAX_UPLOAD_FILES"] = 2
    response = _post(client, nav.token, [(PDF, f"teil{i}.pdf") for i in range(3)])
    assert "Sie können höchstens 2 Dateien zu einer Abgabe hochladen." in text_of(response.data)
    _assert_nothing_stored_but_the_text(app, response)


def test_the_count_limit_includes_files_already_stored(app, client, nav):
    app.config["MAX_UPLOAD_FILES"] = 2
    assert _post(client, nav.token, [(PDF, "a.pdf"), (PDF, "b.pdf")], "entwurf").status_code == 303
    response = _post(client, nav.token, [(PDF, "c.pdf")])
    assert response.status_code == 422
    assert "Gespeichert sind 2, ausgewählt haben Sie 1." in text_of(response.data)
    assert db.session.scalar(select(func.count()).select_from(SubmissionFile)) == 2
    assert len(_files(Path(app.config["UPLOAD_FOLDER"]))) == 2


def test_flask_request_limit_is_above_the_file_limits(app, client, nav):
    # An oversized file reaches our own check (and the text survives) instead of a bare 413.
    assert app.config["MAX_CONTENT_LENGTH"] > 5 * 20 * 1024 * 1024
    app.config["MAX_UPLOAD_BYTES"] = 300 * 1024
    app.config["MAX_UPLOAD_FILES"] = 1
    response = _post(client, nav.token, [(PDF + b"0" * (300 * 1024), "gross.pdf")])
    assert "ist zu groß" in text_of(response.data)
    _assert_nothing_stored_but_the_text(app, response)


def test_backslashes_in_names_never_reach_the_disk(app, client, nav):
    # Werkzeug already drops the backslashes of a quoted multipart file name; what remains is
    # a plain name, stored under a random one.
    response = _post(client, nav.token, [(PDF, "..\\..\\x.pdf")], "entwurf")
    assert response.status_code == 303
    stored = db.session.scalars(select(SubmissionFile)).one()
    assert "\\" not in stored.original_name and not stored.original_name.startswith(".")
    [path] = _files(Path(app.config["UPLOAD_FOLDER"]))
    assert path.parent.parent == Path(app.config["UPLOAD_FOLDER"])


def test_files_are_stored_under_random_names_outside_the_web_root(app, client, nav):
    response = _post(client, nav.token, [(PDF, "Soll Prozess (Entwurf).pdf")], "entwurf")
    assert response.status_code == 303
    stored = db.session.scalars(select(SubmissionFile)).one()
    [path] = _files(Path(app.config["UPLOAD_FOLDER"]))
    assert path.name == stored.stored_name and "Soll" not in path.name
    assert path.parent.name == str(stored.submission.context_pk)
    assert stored.original_name == "Soll Prozess (Entwurf).pdf"
    assert (stored.size, stored.content_type) == (len(PDF), "application/pdf")
    assert path.read_bytes() == PDF
    # A draft's file can be removed again, from disk too.
    removal = f"{ASSIGNMENT}/abgabe/datei/{stored.id}/entfernen"
    removed = client.post(removal, data={"lt": nav.token})
    assert removed.status_code == 303
    assert _files(Path(app.config["UPLOAD_FOLDER"])) == []
    assert db.session.scalar(select(func.count()).select_from(SubmissionFile)) == 0
