"""Submissions of practical assignments: saving the answer, checking and storing uploaded files,
and the Lotse's review as the Navigator sees it.

One :class:`Submission` per Navigator, course and unit: a text answer plus files, saved as a draft
and then submitted. Files are checked by their *content* (magic bytes, the entries of a zip-based
office file, an XML parse), not by the name or the content type the browser claims; the size and
count limits come from ``MAX_UPLOAD_BYTES`` and ``MAX_UPLOAD_FILES``. They are stored outside the
web root as ``UPLOAD_FOLDER/<context pk>/<random name>``; the original name is kept (sanitised)
only for the download. A refused upload stores nothing: every file of the request is first
written to a temporary file next to its destination and only renamed when all of them passed.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.parsers import expat

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from courses.models import (
    GradingDecision,
    Submission,
    SubmissionFile,
    SubmissionState,
    UnitVersion,
)
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .errors import DomainError

log = logging.getLogger(__name__)

#: Upper bound of a text answer, in characters.
MAX_TEXT_LENGTH = 100_000
#: Form fields other than files that a submission request carries, in bytes (the text answer).
FORM_OVERHEAD_BYTES = 1024 * 1024


# --- What may be uploaded -------------------------------------------------------------------------

_OOXML = {
    "docx": "word/",
    "xlsx": "xl/",
    "pptx": "ppt/",
}
_ODF = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
#: Allowed extensions and the content type stored for them.
CONTENT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bpmn": "application/xml",
    "xml": "application/xml",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": _ODF["odt"],
    "ods": _ODF["ods"],
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
ALLOWED_LABEL = "PDF, PNG, JPEG, GIF, BPMN, XML, DOCX, XLSX, PPTX, ODT, ODS, TXT, CSV"
ACCEPT_ATTRIBUTE = ",".join("." + ext for ext in CONTENT_TYPES)

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_CHUNK = 64 * 1024


def max_upload_bytes() -> int:
    return int(current_app.config["MAX_UPLOAD_BYTES"])


def max_upload_files() -> int:
    return int(current_app.config["MAX_UPLOAD_FILES"])


def request_size_limit() -> int:
    """Flask's MAX_CONTENT_LENGTH for a submission request: generously above the file limits so
    that an oversized file is refused by our own check, which keeps the text answer."""
    return max_upload_bytes() * max_upload_files() + FORM_OVERHEAD_BYTES


def format_size(size: int) -> str:
    """``20971520`` -> ``"20 MB"``, German decimal comma."""
    if size >= 1024 * 1024:
        value, unit = size / (1024 * 1024), "MB"
    elif size >= 1024:
        value, unit = size / 1024, "KB"
    else:
        return f"{size} Byte"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',')} {unit}"


def has_path(name: str) -> bool:
    """True for names that carry a path (``../../etc/passwd``, ``..\\x``, ``C:\\x``) or are one."""
    return "/" in name or "\\" in name or "\x00" in name or name.strip() in {".", ".."}


def sanitise_filename(name: str) -> str:
    """A harmless display name: no control characters, no path or shell-special characters, no
    leading dots, at most 150 characters with the extension kept."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"/\\|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = stem[: 150 - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else name[:150]
    return name or "datei"


def extension_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


class UploadRefused(DomainError):
    """One or more uploaded files were refused; ``messages`` say why, in German."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class CheckedUpload:
    """A file that passed every check, waiting in a temporary file for :func:`store_uploads`."""

    original_name: str
    content_type: str
    size: int
    sha256: str
    temp_path: Path
    stored_name: str = field(default_factory=lambda: secrets.token_urlsafe(24))


def upload_folder(context_pk: int, *, create: bool = True) -> Path:
    """Where a course's files live (created on demand, owner-only)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / str(int(context_pk))
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def file_path(stored: SubmissionFile) -> Path:
    """The file's bytes on disk."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", stored.stored_name):
        raise ValueError("unexpected stored name")
    return upload_folder(stored.submission.context_pk, create=False) / stored.stored_name


def _content_matches(path: Path, ext: str) -> bool:
    with path.open("rb") as fh:
        head = fh.read(8192)
    if ext == "pdf":
        return head.startswith(b"%PDF-")
    if ext in ("png", "jpg", "jpeg", "gif"):
        return filetype.guess_mime(head) == CONTENT_TYPES[ext]
    if ext in _OOXML:
        return _zip_has(
            path,
            lambda names: (
                "[Content_Types].xml" in names and any(n.startswith(_OOXML[ext]) for n in names)
            ),
        )
    if ext in _ODF:
        return _odf_is(path, _ODF[ext])
    if ext in ("xml", "bpmn"):
        return _xml_root(path, require_bpmn=ext == "bpmn")
    if ext in ("txt", "csv"):
        return filetype.guess(head) is None and _is_text(path)
    return False


def _zip_has(path: Path, test: Callable[[set[str]], bool]) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return test(set(archive.namelist()))
    except (zipfile.BadZipFile, OSError):
        return False


def _odf_is(path: Path, mimetype: str) -> bool:
    # ODF: the first entry is "mimetype", stored uncompressed, holding the media type.
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if not infos or infos[0].filename != "mimetype" or infos[0].file_size > 200:
                return False
            return archive.read(infos[0]).strip() == mimetype.encode()
    except (zipfile.BadZipFile, OSError, KeyError):
        return False


class _Refuse(Exception):
    pass


def _xml_root(path: Path, *, require_bpmn: bool) -> bool:
    """Well-formed XML without a DOCTYPE (no entity tricks); a BPMN file's root must be
    ``bpmn:definitions``."""
    parser = expat.ParserCreate(namespace_separator=" ")
    roots: list[str] = []

    def doctype(*_: object) -> None:
        raise _Refuse

    def start(name: str, _attrs: object) -> None:
        if not roots:
            roots.append(name)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = start
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except (expat.ExpatError, _Refuse):
        return False
    if not roots:
        return False
    return not require_bpmn or roots[0] == f"{_BPMN_NS} definitions"


def _is_text(path: Path) -> bool:
    """UTF-8 (or Windows-1252, as German spreadsheet programs export CSV) without control
    characters other than tab, line feed, carriage return and form feed."""
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    if _has_control(decoder.decode(chunk)):
                        return False
                if _has_control(decoder.decode(b"", final=True)):
                    return False
            return True
        except UnicodeDecodeError:
            continue
    return False


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)


def _copy_limited(stream: IO[bytes], target: Path, limit: int) -> tuple[int, str] | None:
    """Copy ``stream`` to ``target``; None as soon as it exceeds ``limit`` bytes."""
    digest = hashlib.sha256()
    size = 0
    with target.open("xb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                return None
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def chosen_files(files: Iterable[FileStorage]) -> list[FileStorage]:
    """The file fields the user actually filled (browsers send an empty part for an empty
    file input)."""
    return [f for f in files if f is not None and f.filename]


def accept_uploads(
    files: list[FileStorage], *, context_pk: int, existing_count: int
) -> list[CheckedUpload]:
    """Check every file; return them waiting in temporary files, or raise :class:`UploadRefused`
    with every problem found, having removed every temporary file."""
    limit, max_files = max_upload_bytes(), max_upload_files()
    if existing_count + len(files) > max_files:
        raise UploadRefused(
            [
                _(
                    "Sie können höchstens %(max)d Dateien zu einer Abgabe hochladen. Gespeichert "
                    "sind %(existing)d, ausgewählt haben Sie %(chosen)d. Es wurde keine Datei "
                    "gespeichert.",
                    max=max_files,
                    existing=existing_count,
                    chosen=len(files),
                )
            ]
        )
    folder = upload_folder(context_pk)
    accepted: list[CheckedUpload] = []
    problems: list[str] = []
    try:
        for storage in files:
            raw_name = storage.filename or ""
            if has_path(raw_name):
                problems.append(
                    _(
                        "„%(name)s“: Der Dateiname enthält Pfadangaben (/ oder \\) und wird aus "
                        "Sicherheitsgründen nicht angenommen. Bitte benennen Sie die Datei um.",
                        name=raw_name,
                    )
                )
                continue
            name = sanitise_filename(raw_name)
            ext = extension_of(name)
            if ext not in CONTENT_TYPES:
                problems.append(
                    _(
                        "„%(name)s“: Dateien dieses Typs sind nicht erlaubt. Erlaubt sind: "
                        "%(allowed)s.",
                        name=name,
                        allowed=ALLOWED_LABEL,
                    )
                )
                continue
            temp = folder / f".incoming-{secrets.token_urlsafe(16)}"
            copied = _copy_limited(storage.stream, temp, limit)
            if copied is None:
                temp.unlink(missing_ok=True)
                problems.append(
                    _(
                        "„%(name)s“ ist zu groß. Erlaubt sind höchstens %(limit)s je Datei.",
                        name=name,
                        limit=format_size(limit),
                    )
                )
                continue
            size, sha256 = copied
            if size == 0:
                temp.unlink(missing_ok=True)
                problems.append(_("„%(name)s“ ist leer.", name=name))
                continue
            if not _content_matches(temp, ext):
                temp.unlink(missing_ok=True)
                problems.append(
                    _(
                        "„%(name)s“: Der Inhalt der Datei passt nicht zur Endung .%(ext)s. "
                        "Bitte laden Sie eine echte %(label)s-Datei hoch.",
                        name=name,
                        ext=ext,
                        label=ext.upper(),
                    )
                )
                continue
            accepted.append(CheckedUpload(name, CONTENT_TYPES[ext], size, sha256, temp))
    except BaseException:
        discard(accepted)
        raise
    if problems:
        discard(accepted)
        if accepted:
            problems.append(
                _("Damit nichts halb gespeichert wird, wurde keine der Dateien übernommen.")
            )
        raise UploadRefused(problems)
    return accepted


def discard(uploads: Iterable[CheckedUpload]) -> None:
    """Remove the temporary files of uploads that will not be stored."""
    for upload in uploads:
        upload.temp_path.unlink(missing_ok=True)


def store_uploads(submission: Submission, uploads: list[CheckedUpload]) -> list[Path]:
    """Move checked uploads to their final names and attach them to ``submission`` (flushes).
    Returns the final paths so a caller can remove them if the transaction fails."""
    paths, rows = [], []
    for upload in uploads:
        final = upload.temp_path.with_name(upload.stored_name)
        upload.temp_path.replace(final)
        paths.append(final)
        row = SubmissionFile(
            original_name=upload.original_name,
            stored_name=upload.stored_name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
            created_at=utcnow(),
        )
        submission.files.append(row)
        rows.append(row)
    db.session.flush()
    for row in rows:
        log.info("file stored: submission=%s file=%s size=%s", submission.id, row.id, row.size)
    return paths


def remove_file(stored: SubmissionFile) -> Path:
    """Delete a file's row (flushes). Returns the path of its bytes, for the caller to remove
    once the transaction is committed."""
    path = file_path(stored)
    stored.submission.files.remove(stored)
    db.session.flush()
    return path


def submission_of(user_pk: int, context_pk: int, unit_pk: int) -> Submission | None:
    return db.session.scalars(
        select(Submission).where(
            Submission.user_pk == user_pk,
            Submission.context_pk == context_pk,
            Submission.unit_pk == unit_pk,
        )
    ).first()


# --- The Lotse's review -------------------------------------------


@dataclass(frozen=True)
class CriterionReview:
    title: str
    points: float | None
    max_points: float
    comment: str | None = None


@dataclass(frozen=True)
class Review:
    """What a Lotse said about a graded or returned submission."""

    points: float | None
    max_points: float
    comment: str | None = None
    criteria: list[CriterionReview] = field(default_factory=list)
    reviewed_at: datetime | None = None


def latest_decision(submission: Submission) -> GradingDecision | None:
    """The newest decision on ``submission`` (what the Navigator sees), or None."""
    return db.session.scalars(
        select(GradingDecision)
        .where(GradingDecision.submission_pk == submission.id)
        .order_by(GradingDecision.created_at.desc(), GradingDecision.id.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class Criterion:
    """One criterion of an assignment's rubric."""

    id: str
    title: str
    description: str
    max_points: int


def criteria_of(version: UnitVersion) -> list[Criterion]:
    """The rubric criteria of an assignment's version."""
    rubric = version.rubric or {}
    return [
        Criterion(
            id=str(c["id"]),
            title=str(c.get("title") or c["id"]),
            description=str(c.get("description") or ""),
            max_points=int(c.get("points") or 0),
        )
        for c in rubric.get("criteria") or []
        if isinstance(c, dict) and c.get("id") is not None
    ]


def review_of(submission: Submission) -> Review | None:
    """The Lotse's latest decision as the :class:`Review` the Navigator views and the gradebook
    reads; only for a graded or returned submission."""
    if submission.state not in (SubmissionState.GRADED, SubmissionState.RETURNED):
        return None
    decision = latest_decision(submission)
    if decision is None:
        return None
    criteria = criteria_of(decision.unit_version)
    comment = "\n\n".join(t for t in (decision.feedback, decision.revision_notes) if t) or None
    return Review(
        points=decision.total,
        max_points=decision.max_total,
        comment=comment,
        criteria=[
            CriterionReview(c.title, decision.points.get(c.id), float(c.max_points))
            for c in criteria
        ],
        reviewed_at=decision.created_at,
    )
