"""marshmallow schemas of the Navigator API: load schemas refuse unknown fields with German field
errors (HTTP 422); dump schemas name every field a Navigator may see, and nothing else.

Quiz schemas never carry correct answers or explanations before an attempt is stored: the only
place they appear is :class:`AttemptResultSchema`, the answer to a submitted attempt.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from marshmallow import Schema, ValidationError, fields
from marshmallow.validate import Length, OneOf

from courses.models import SubmissionState
from courses.services.submissions import MAX_TEXT_LENGTH


def _german_messages(field: fields.Field) -> None:
    """Replace marshmallow's English default messages of ``field`` (and its inner fields)."""
    field.error_messages.update(
        required=_("Diese Angabe fehlt."),
        null=_("Diese Angabe darf nicht leer (null) sein."),
        validator_failed=_("Ungültiger Wert."),
    )
    invalid = {
        fields.String: _("Hier wird ein Text erwartet."),
        fields.List: _("Hier wird eine Liste erwartet."),
        fields.Dict: _("Hier wird ein Objekt erwartet."),
        fields.Integer: _("Hier wird eine ganze Zahl erwartet."),
        fields.Boolean: _("Hier wird wahr oder falsch erwartet."),
    }
    for kind, message in invalid.items():
        if isinstance(field, kind):
            field.error_messages["invalid"] = message
            break
    if isinstance(field, fields.String):
        field.error_messages["invalid_utf8"] = _("Der Text ist kein gültiges UTF-8.")
    for inner in (
        getattr(field, "inner", None),
        getattr(field, "key_field", None),
        getattr(field, "value_field", None),
    ):
        if isinstance(inner, fields.Field):
            _german_messages(inner)


class GermanSchema(Schema):
    """Base of every load schema: unknown fields are refused, messages are German."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_messages.update(
            unknown=_("Unbekanntes Feld: Dieses Feld wird nicht angenommen."),
            type=_("Der Inhalt muss ein JSON-Objekt sein."),
        )

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _german_messages(field_obj)


_ID = Length(min=1, max=100, error=lazy_gettext("Eine Kennung hat 1 bis {max} Zeichen."))


class QuizAnswersSchema(GermanSchema):
    """``{"answers": {"q1": ["a"], "q2": ["true"]}}``: the chosen option ids per question. Nothing
    else is accepted – a score or correct flags sent by a client are refused."""

    answers = fields.Dict(
        keys=fields.String(validate=_ID),
        values=fields.List(
            fields.String(validate=_ID),
            validate=Length(max=50, error=lazy_gettext("Zu viele Antworten.")),
        ),
        required=True,
        validate=Length(max=200, error=lazy_gettext("Zu viele Fragen.")),
    )


class ReadConfirmationSchema(GermanSchema):
    """``{}``: confirming a reading takes no fields."""


def _storable(value: str) -> None:
    """Text the database can store: no NUL (PostgreSQL refuses it) and no lone UTF-16 surrogate
    (``"\\ud800"`` is valid JSON but not encodable as UTF-8). Either failed with a 500."""
    if "\x00" in value:
        raise ValidationError(
            _("Der Text enthält ein Nullzeichen (U+0000). Bitte entfernen Sie es.")
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError(
            _("Der Text enthält ungültige Zeichen (einzelne UTF-16-Ersatzzeichen).")
        ) from error


class SubmissionLoadSchema(GermanSchema):
    """``{"text": "…", "state": "draft" | "submitted"}``: save a draft or submit."""

    text = fields.String(
        required=True,
        validate=[
            Length(
                max=MAX_TEXT_LENGTH,
                error=lazy_gettext("Der Text ist zu lang (höchstens {max} Zeichen)."),
            ),
            _storable,
        ],
    )
    state = fields.String(
        required=True,
        validate=OneOf(
            [SubmissionState.DRAFT.value, SubmissionState.SUBMITTED.value],
            error=lazy_gettext("Erlaubt sind nur „draft“ (Entwurf) oder „submitted“ (einreichen)."),
        ),
    )


# --- Dump schemas ---------------------------------------------------------------------------------


class _CatalogItemSchema(Schema):
    """What a module and a unit both show: catalogue slug, kind, title and the API URL."""

    slug = fields.String()
    kind = fields.String()
    title = fields.String()
    url = fields.String()


class UnitSummarySchema(_CatalogItemSchema):
    estimated_minutes = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    complete = fields.Boolean()


class SourceSchema(Schema):
    title = fields.String()
    url = fields.String()


class ModuleSummarySchema(_CatalogItemSchema):
    summary = fields.String()
    percent = fields.Integer()
    status = fields.String()
    status_label = fields.String()
    units_total = fields.Integer()
    units_complete = fields.Integer()
    due_at = fields.AwareDateTime(allow_none=True)
    due_date = fields.String(allow_none=True)
    """TT.MM.JJJJ in Europe/Berlin."""
    overdue = fields.Boolean()
    next_unit = fields.String(allow_none=True)


class ModuleDetailSchema(ModuleSummarySchema):
    objectives = fields.List(fields.String())
    estimated_minutes = fields.Integer()
    sources = fields.List(fields.Nested(SourceSchema))
    units = fields.List(fields.Nested(UnitSummarySchema))


class OptionSchema(Schema):
    id = fields.String()
    text = fields.String()


class QuestionSchema(Schema):
    """A question as shown before an attempt: no correct flags, no explanation."""

    id = fields.String()
    type = fields.String()
    text = fields.String()
    options = fields.List(fields.Nested(OptionSchema))


class AttemptSchema(Schema):
    id = fields.Integer()
    created_at = fields.AwareDateTime()
    percent = fields.Float()
    correct_count = fields.Integer()
    question_count = fields.Integer()
    passed = fields.Boolean()
    counted = fields.Boolean()


class QuestionResultSchema(Schema):
    id = fields.String()
    correct = fields.Boolean()
    chosen = fields.List(fields.String())
    correct_options = fields.List(fields.String())
    explanation = fields.String()


class AttemptResultSchema(AttemptSchema):
    questions = fields.List(fields.Nested(QuestionResultSchema))
    unit_state = fields.String()


class FileSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    url = fields.String()


class SubmissionDumpSchema(Schema):
    id = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    text = fields.String()
    submitted_at = fields.AwareDateTime(allow_none=True)
    updated_at = fields.AwareDateTime()
    editable = fields.Boolean()
    files = fields.List(fields.Nested(FileSchema))


class CriterionSchema(Schema):
    title = fields.String()
    points = fields.Float()


class UnitDetailSchema(UnitSummarySchema):
    module = fields.String()
    body_html = fields.String(allow_none=True)
    """Readings and assignment briefs; internal links carry no token here."""
    questions = fields.List(fields.Nested(QuestionSchema), allow_none=True)
    pass_percent = fields.Float(allow_none=True)
    scoring = fields.String(allow_none=True)
    attempts = fields.List(fields.Nested(AttemptSchema), allow_none=True)
    criteria = fields.List(fields.Nested(CriterionSchema), allow_none=True)
    submission = fields.Nested(SubmissionDumpSchema, allow_none=True)
