"""marshmallow schemas of the catalogue files: ``module.yaml``, quizzes and rubrics.

They check one file each and speak German; :mod:`.catalog_files` locates their messages (file,
line, field path) and adds what needs more than one file (unit files, links, duplicate modules).
The format is described for authors in ``courses/catalog/README.md``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from courses.models import ModuleKind, UnitKind

#: Module, unit, question, option and criterion ids: lower-case letters, digits, hyphens.
ID_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SCORING_RULES = ("best", "latest")
QUESTION_TYPES = ("single", "multiple", "truefalse")
TRUEFALSE_TEXT = {"true": "Richtig", "false": "Falsch"}

_FIELD_ERRORS = {
    "required": "Pflichtfeld fehlt",
    "null": "darf nicht leer sein",
    "validator_failed": "ungültiger Wert",
}


def _german(kwargs: dict[str, Any], **messages: str) -> dict[str, Any]:
    """``kwargs`` for a field, with German messages under the caller's own ones."""
    kwargs["error_messages"] = {**_FIELD_ERRORS, **messages, **kwargs.get("error_messages", {})}
    return kwargs


class Text(fields.String):
    """A string; YAML numbers, dates or lists are refused rather than converted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_german(kwargs, invalid="Text erwartet"))


class WholeNumber(fields.Integer):
    """An integer as YAML wrote it: no floats, strings or booleans."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_german(kwargs, invalid="ganze Zahl erwartet"))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


class Flag(fields.Boolean):
    """``true`` or ``false`` as YAML wrote it (marshmallow would also take "yes", 1, "on")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_german(kwargs, invalid="true oder false erwartet"))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Items(fields.List):
    """A YAML list of ``inner``."""

    def __init__(self, inner: fields.Field, **kwargs: Any) -> None:
        super().__init__(inner, **_german(kwargs, invalid="Liste erwartet"))


class Record(fields.Nested):
    """A YAML mapping checked by ``schema``."""

    def __init__(self, schema: type[Schema], **kwargs: Any) -> None:
        super().__init__(schema, **_german(kwargs, type="Eintrag mit Feldern erwartet"))


class WebAddress(fields.Url):
    """An http(s) address."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("schemes", {"http", "https"})
        super().__init__(**_german(kwargs, invalid="keine gültige http(s)-Adresse"))


def _identifier() -> Text:
    return Text(
        required=True,
        validate=[
            validate.Regexp(
                f"^{ID_PATTERN}$",
                error="ungültige ID {input!r}: nur Kleinbuchstaben, Ziffern und Bindestriche",
            ),
            validate.Length(max=100, error="höchstens {max} Zeichen"),
        ],
    )


def _title() -> Text:
    return Text(
        required=True,
        validate=validate.Length(min=1, max=300, error="1 bis {max} Zeichen erwartet"),
    )


def _text(required: bool = True) -> Text:
    return Text(required=required, validate=validate.Length(min=1, error="darf nicht leer sein"))


def _minutes(required: bool = True) -> WholeNumber:
    return WholeNumber(
        required=required, validate=validate.Range(min=0, error="darf nicht negativ sein")
    )


def _one_of(choices: tuple[str, ...], what: str) -> validate.OneOf:
    return validate.OneOf(choices, error=f"unbekannte {what} {{input!r}} (erlaubt: {{choices}})")


class CatalogSchema(Schema):
    """Base: German messages; unknown fields are errors, since they are mostly typos."""

    # marshmallow merges this class attribute along the MRO; it is never mutated.
    error_messages = {  # noqa: RUF012
        "type": "Eintrag mit Feldern erwartet",
        "unknown": "unbekanntes Feld (Tippfehler?)",
    }


def _duplicate_ids(items: Any, what: str, where: str) -> dict[int, dict[str, list[str]]]:
    """Errors at ``[i].id`` for every id seen before in ``items``.

    Runs on the original input, so a duplicate is reported even when other fields are wrong.
    """
    errors: dict[int, dict[str, list[str]]] = {}
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        first = first_seen.setdefault(item["id"], index)
        if first != index:
            errors[index] = {"id": [f"{what} {item['id']!r} doppelt (wie {where}[{first}])"]}
    return errors


# --- module.yaml ------------------------------------------------------------------------------


class SourceSchema(CatalogSchema):
    title = _title()
    url = WebAddress(required=True)


class UnitSchema(CatalogSchema):
    id = _identifier()
    kind = Text(required=True, validate=_one_of(tuple(UnitKind), "Art der Einheit"))
    title = _title()
    file = _text()
    rubric = _text(required=False)
    estimated_minutes = _minutes()

    @validates_schema
    def _rubric_for_assignments(self, data: dict[str, Any], **_: Any) -> None:
        if data["kind"] == UnitKind.ASSIGNMENT and not data.get("rubric"):
            raise ValidationError("Bewertungsraster fehlt (Pflicht bei assignment)", "rubric")
        if data["kind"] != UnitKind.ASSIGNMENT and data.get("rubric"):
            raise ValidationError("ein Bewertungsraster gibt es nur bei assignment", "rubric")


class ModuleSchema(CatalogSchema):
    id = _identifier()
    title = _title()
    kind = Text(required=True, validate=_one_of(tuple(ModuleKind), "Modulart"))
    position = WholeNumber(required=True)
    summary = _text()
    objectives = Items(_text(), load_default=list)
    estimated_minutes = _minutes(required=False)
    units = Items(
        Record(UnitSchema),
        required=True,
        validate=validate.Length(min=1, error="das Modul hat keine Einheiten"),
    )
    sources = Items(Record(SourceSchema), load_default=list)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _unique_units(self, _: dict[str, Any], original: dict[str, Any], **__: Any) -> None:
        if not isinstance(original, dict):
            return
        if errors := _duplicate_ids(original.get("units"), "Einheit-ID", "units"):
            raise ValidationError({"units": errors})

    @post_load
    def _total_minutes(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("estimated_minutes") is None:
            data["estimated_minutes"] = sum(unit["estimated_minutes"] for unit in data["units"])
        return data


# --- quiz -------------------------------------------------------------------------------------


class OptionSchema(CatalogSchema):
    id = _identifier()
    text = _text()
    correct = Flag(load_default=False)


class QuestionSchema(CatalogSchema):
    id = _identifier()
    type = Text(required=True, validate=_one_of(QUESTION_TYPES, "Fragenart"))
    text = _text()
    options = Items(Record(OptionSchema))
    answer = Flag()
    explanation = _text()

    @validates_schema
    def _answers(self, data: dict[str, Any], **_: Any) -> None:
        options = data.get("options")
        if data["type"] == "truefalse":
            if "answer" not in data:
                raise ValidationError("Pflichtfeld bei truefalse: true oder false", "answer")
            if options is not None:
                raise ValidationError("truefalse hat keine options, nur answer", "options")
            return
        if "answer" in data:
            raise ValidationError("answer gibt es nur bei truefalse; options verwenden", "answer")
        if options is None:
            raise ValidationError(f"Pflichtfeld bei {data['type']}", "options")
        if len(options) < 2:
            raise ValidationError("mindestens zwei Optionen erwartet", "options")
        correct = sum(1 for option in options if option["correct"])
        if correct == 0:
            raise ValidationError("keine richtige Antwort", "options")
        if data["type"] == "single" and correct > 1:
            raise ValidationError(
                f"single hat genau eine richtige Antwort, markiert sind {correct}", "options"
            )

    @post_load
    def _one_shape(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # Scoring code sees options everywhere; ``answer`` stays for readers of the raw quiz.
        if data["type"] == "truefalse":
            data["options"] = [
                {"id": key, "text": text, "correct": (key == "true") == data["answer"]}
                for key, text in TRUEFALSE_TEXT.items()
            ]
        return data


class QuizSchema(CatalogSchema):
    scoring = Text(required=True, validate=_one_of(SCORING_RULES, "Wertung"))
    pass_percent = WholeNumber(
        required=True, validate=validate.Range(0, 100, error="zwischen 0 und 100 erwartet")
    )
    questions = Items(
        Record(QuestionSchema),
        required=True,
        validate=validate.Length(min=1, error="das Quiz hat keine Fragen"),
    )

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _unique_ids(self, _: dict[str, Any], original: dict[str, Any], **__: Any) -> None:
        if not isinstance(original, dict):
            return
        questions = original.get("questions")
        errors: dict[int, dict[str, Any]] = {}
        errors.update(_duplicate_ids(questions, "Fragen-ID", "questions"))
        # Option ids are unique in the whole quiz (README); truefalse options are generated.
        # One problem per question: authors who number a, b, c, d in every question get one
        # line per question to fix, not one per option.
        first_seen: dict[str, int] = {}
        for index, question in enumerate(questions if isinstance(questions, list) else []):
            options = question.get("options") if isinstance(question, dict) else None
            seen_here: set[str] = set()
            clashes: dict[int, list[str]] = {}
            for option in options if isinstance(options, list) else []:
                option_id = option.get("id") if isinstance(option, dict) else None
                if not isinstance(option_id, str):
                    continue
                first = first_seen.setdefault(option_id, index)
                if first != index or option_id in seen_here:
                    clashes.setdefault(first, []).append(option_id)
                seen_here.add(option_id)
            if clashes:
                places = "; ".join(
                    f"{', '.join(repr(i) for i in ids)} schon in questions[{where}]"
                    for where, ids in sorted(clashes.items())
                )
                errors.setdefault(index, {})["options"] = [
                    f"Options-IDs müssen im ganzen Quiz eindeutig sein: {places}"
                ]
        if errors:
            raise ValidationError({"questions": errors})


# --- rubric -----------------------------------------------------------------------------------


class CriterionSchema(CatalogSchema):
    id = _identifier()
    title = _title()
    description = Text(load_default="")
    points = WholeNumber(
        required=True, validate=validate.Range(min=1, error="ganze Zahl größer als 0 erwartet")
    )


class RubricSchema(CatalogSchema):
    pass_points = WholeNumber(
        load_default=None, validate=validate.Range(min=0, error="darf nicht negativ sein")
    )
    criteria = Items(
        Record(CriterionSchema),
        required=True,
        validate=validate.Length(min=1, error="das Bewertungsraster hat keine Kriterien"),
    )

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _unique_criteria(self, _: dict[str, Any], original: dict[str, Any], **__: Any) -> None:
        if not isinstance(original, dict):
            return
        if errors := _duplicate_ids(original.get("criteria"), "Kriterien-ID", "criteria"):
            raise ValidationError({"criteria": errors})

    @validates_schema
    def _reachable_pass_points(self, data: dict[str, Any], **_: Any) -> None:
        total = sum(criterion["points"] for criterion in data["criteria"])
        if data["pass_points"] is not None and data["pass_points"] > total:
            raise ValidationError(
                f"pass_points ({data['pass_points']}) über der Gesamtpunktzahl ({total})",
                "pass_points",
            )

    @post_load
    def _max_points(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["max_points"] = sum(criterion["points"] for criterion in data["criteria"])
        return data
