"""Submission files as the browser gets them: never sniffed, inline only for PDF, PNG and JPEG,
everything else a sandboxed download, and the uploader's file name in Content-Disposition quoted
with an RFC 6266 ``filename*`` for non-ASCII names (no header injection)."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask, current_app
from flask.testing import FlaskClient

from courses.models import Submission, SubmissionFile
from courses.services.submissions import sanitise_filename
from lti_tool.extensions import db
from lti_tool.models import utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient

FILES = {
    "pdf": ("application/pdf", b"%PDF-1.4\n%%EOF\n"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16),
    "xml": ("application/xml", b"<a><script>alert(1)</script></a>"),
    "gif": ("image/gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
}


def _submission_with_files(state: str) -> tuple[f.Started, f.Started, Submission]:
    moodle = f.platform()
    lotse = f.launch(moodle, "lotse-a", lotse=True)
    nav = f.launch(moodle, "nav-1")
    catalog_module = f.module("b1")
    f.place(lotse.context, catalog_module)
    unit = next(u for u in catalog_module.active_units if u.kind == "assignment")
    submission = Submission(
        user_pk=nav.user.id,
        context_pk=lotse.context.id,
        unit_pk=unit.id,
        unit_version_pk=unit.versions[0].id,
        text="",
        state=state,
        submitted_at=utcnow(),
    )
    db.session.add(submission)
    db.session.flush()
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / str(lotse.context.id)
    folder.mkdir(parents=True, exist_ok=True)
    for ext, (content_type, data) in FILES.items():
        stored_name = secrets.token_urlsafe(16)
        (folder / stored_name).write_bytes(data)
        db.session.add(
            SubmissionFile(
                submission_pk=submission.id,
                original_name=sanitise_filename(f'Bericht "Ärger"\r\nX-Evil: 1.{ext}'),
                stored_name=stored_name,
                content_type=content_type,
                size=len(data),
                sha256="0" * 64,
            )
        )
    db.session.commit()
    return lotse, nav, submission


def test_lotse_sees_pdf_and_png_inline_and_downloads_the_rest(
    app: Flask, client: FlaskClient
) -> None:
    tc = TokenClient(client)
    lotse, _nav, submission = _submission_with_files("submitted")
    for stored in submission.files:
        ext = stored.original_name.rsplit(".", 1)[1]
        response = tc.get(f"/lotse/bewertung/{submission.id}/dateien/{stored.id}", lotse.token)
        assert response.status_code == 200
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Type"].startswith(FILES[ext][0])
        disposition = headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition
        assert "X-Evil" not in headers
        assert "filename*=UTF-8''Bericht%20_%C3%84rger_X-Evil_%201." in disposition
        if ext in ("pdf", "png"):
            assert disposition.startswith("inline;")
        else:
            assert disposition.startswith("attachment;")
        # Shown or downloaded, an uploaded file is sandboxed (issue 10).
        assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert headers["Cache-Control"] == "private, no-store"
        response.close()


def test_navigator_always_downloads_own_files(app: Flask, client: FlaskClient) -> None:
    tc = TokenClient(client)
    _lotse, nav, submission = _submission_with_files("submitted")
    for stored in submission.files:
        response = tc.get(f"/abgabe/datei/{stored.id}", nav.token)
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in response.headers["Content-Security-Policy"]
        response.close()


def test_files_live_outside_the_static_folders(app: Flask) -> None:
    upload = Path(current_app.config["UPLOAD_FOLDER"]).resolve()
    for blueprint in current_app.blueprints.values():
        if blueprint.static_folder:
            assert not upload.is_relative_to(Path(blueprint.static_folder).resolve())
    assert current_app.static_folder is None or not upload.is_relative_to(
        Path(current_app.static_folder).resolve()
    )
