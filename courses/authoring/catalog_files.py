"""The catalogue as files: reads ``courses/catalog/<module>/`` and checks everything an author can
get wrong, each problem with file and line (or field path). :func:`load_catalog` is the one entry
point; ``flask courses check`` prints its problems, the importer stores its modules."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from marshmallow import Schema, ValidationError

from courses.models import UnitKind

from .rendering import (
    InternalLink,
    LinkResolver,
    is_internal_href,
    module_path,
    parse_internal_link,
    render_markdown,
    unit_path,
)
from .schemas import ModuleSchema, QuizSchema, RubricSchema

#: Where the catalogue lives unless ``CATALOG_PATH`` says otherwise.
DEFAULT_CATALOG_PATH = Path(__file__).resolve().parent.parent / "catalog"
MODULE_FILE = "module.yaml"
MARKDOWN_SUFFIXES = (".md",)
YAML_SUFFIXES = (".yaml", ".yml")
#: Link targets that survive sanitising besides the catalogue's own ``unit:`` and ``module:``.
EXTERNAL_SCHEMES = ("http://", "https://", "mailto:", "tel:")

#: Where in a YAML document: keys and list indexes, e.g. ``("questions", 2, "options")``.
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One mistake in the catalogue, located for the author."""

    file: str
    """Path relative to the catalogue folder, e.g. ``b1-rechtsrahmen/05-quiz.yaml``."""
    message: str
    line: int | None = None
    field: str | None = None
    """Field path inside a YAML file, e.g. ``questions[2].options``."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class UnitSpec:
    """A unit as the files describe it, with its content loaded (and rendered)."""

    slug: str
    kind: str
    title: str
    position: int
    estimated_minutes: int
    file: str
    rubric_file: str | None = None
    content_hash: str = ""
    """Hash of the unit's file(s); a change gives the unit a new version at import."""
    markdown: str | None = None
    body_html: str | None = None
    quiz: dict[str, Any] | None = None
    rubric: dict[str, Any] | None = None


@dataclass
class ModuleSpec:
    """A module as its ``module.yaml`` describes it."""

    slug: str
    """The folder name, which the module's id must equal."""
    kind: str = ""
    position: int = 0
    title: str = ""
    summary: str = ""
    objectives: list[str] = field(default_factory=list)
    estimated_minutes: int = 0
    sources: list[dict[str, str]] = field(default_factory=list)
    content_hash: str = ""
    """Hash of the validated ``module.yaml``; a change bumps the module's version at import."""
    units: list[UnitSpec] = field(default_factory=list)


@dataclass
class Catalog:
    """The loaded catalogue and everything wrong with it."""

    root: Path
    modules: list[ModuleSpec]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unit_count(self) -> int:
        return sum(len(module.units) for module in self.modules)

    def summary(self) -> str:
        """E.g. "12 Module, 62 Einheiten, keine Probleme"."""
        problems = (
            "keine Probleme" if self.ok else _count(len(self.problems), "Problem", "Probleme")
        )
        return (
            f"{_count(len(self.modules), 'Modul', 'Module')}, "
            f"{_count(self.unit_count, 'Einheit', 'Einheiten')}, {problems}"
        )


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def field_path(path: FieldPath) -> str:
    """``("questions", 2, "options")`` → ``questions[2].options``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# --- YAML with line numbers -------------------------------------------------------------------


@dataclass
class LocatedYaml:
    """A parsed YAML document and the line (1-based) of every key and list item in it."""

    data: Any
    lines: dict[FieldPath, int]

    def line(self, path: FieldPath) -> int | None:
        """Line of ``path``, or of its nearest ancestor (a missing field: its parent's line)."""
        for end in range(len(path), -1, -1):
            if (line := self.lines.get(path[:end])) is not None:
                return line
        return None


def parse_yaml(text: str, file: str, problems: list[Problem]) -> LocatedYaml | None:
    """Parse one YAML document, keeping node lines; a syntax error becomes a problem."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        detail = error.problem or str(error)
        problems.append(
            Problem(file, f"YAML-Syntaxfehler: {detail}", line=mark.line + 1 if mark else None)
        )
        return None
    finally:
        loader.dispose()
    lines: dict[FieldPath, int] = {}
    if node is not None:
        _record_lines(node, (), lines, file, problems)
    return LocatedYaml(data, lines)


def _record_lines(
    node: yaml.Node,
    path: FieldPath,
    lines: dict[FieldPath, int],
    file: str,
    problems: list[Problem],
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                # PyYAML keeps the last value silently; the author meant one of them.
                problems.append(
                    Problem(
                        file,
                        "Feld doppelt angegeben",
                        key_node.start_mark.line + 1,
                        field_path(child),
                    )
                )
                continue
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines, file, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, file, problems)


def _error_messages(messages: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, str]]:
    """Flatten marshmallow's nested messages into (path, message); ``_schema`` is the parent."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _error_messages(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, list):
        for message in messages:
            yield from _error_messages(message, path)
    else:
        yield path, str(messages)


def validate_document(
    schema: Schema, document: LocatedYaml, file: str, problems: list[Problem]
) -> dict[str, Any] | None:
    """Load ``document`` with ``schema``; each error becomes a located problem."""
    if document.data is None:
        problems.append(Problem(file, "Datei ist leer", line=1))
        return None
    try:
        data: dict[str, Any] = schema.load(document.data)
    except ValidationError as error:
        for path, message in _error_messages(error.messages):
            problems.append(Problem(file, message, document.line(path), field_path(path) or None))
        return None
    return data


def _content_hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# --- modules and units ------------------------------------------------------------------------


class _ModuleReader:
    """Reads one module folder, collecting problems."""

    def __init__(self, folder: Path, problems: list[Problem]) -> None:
        self.folder = folder
        self.name = folder.name
        self.problems = problems
        self.document: LocatedYaml | None = None
        self.module_file = f"{self.name}/{MODULE_FILE}"

    def problem(self, message: str, path: FieldPath = ()) -> None:
        """A problem in this module's module.yaml, at ``path``."""
        line = self.document.line(path) if self.document else None
        self.problems.append(Problem(self.module_file, message, line, field_path(path) or None))

    def read(self) -> tuple[ModuleSpec, str | None] | None:
        """The module and the id its module.yaml claims; None without a readable module.yaml."""
        path = self.folder / MODULE_FILE
        if not path.is_file():
            self.problems.append(
                Problem(self.module_file, "Datei fehlt (jedes Modul braucht eine)")
            )
            return None
        text = self._decode(path.read_bytes(), self.module_file)
        if text is None:
            return None
        self.document = parse_yaml(text, self.module_file, self.problems)
        if self.document is None:
            return None
        data = validate_document(ModuleSchema(), self.document, self.module_file, self.problems)
        raw = self.document.data if isinstance(self.document.data, dict) else {}
        claimed_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        if claimed_id is not None and claimed_id != self.name:
            self.problem(
                f"ID {claimed_id!r} entspricht nicht dem Ordnernamen {self.name!r}", ("id",)
            )
        module = ModuleSpec(slug=self.name)
        if data is not None:
            module.kind = data["kind"]
            module.position = data["position"]
            module.title = data["title"]
            module.summary = data["summary"].strip()
            module.objectives = data["objectives"]
            module.estimated_minutes = data["estimated_minutes"]
            module.sources = data["sources"]
            canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
            module.content_hash = _content_hash(canonical.encode())
        entries = data["units"] if data is not None else self._salvage_units(raw)
        for position, entry in enumerate(entries):
            if entry is not None:
                module.units.append(self._read_unit(position, entry))
        return module, claimed_id

    @staticmethod
    def _salvage_units(raw: dict[str, Any]) -> list[dict[str, Any] | None]:
        """Unit entries usable despite errors elsewhere in module.yaml, so their files are checked
        too; None keeps the index of an unusable one."""
        units = raw.get("units")
        usable: list[dict[str, Any] | None] = []
        seen: set[str] = set()
        for entry in units if isinstance(units, list) else []:
            ok = (
                isinstance(entry, dict)
                and isinstance(entry.get("id"), str)
                and entry.get("id") not in seen
                and entry.get("kind") in set(UnitKind)
                and isinstance(entry.get("file"), str)
                and isinstance(entry.get("rubric"), str | None)
            )
            usable.append(entry if ok else None)
            if ok:
                seen.add(entry["id"])
        return usable

    def _read_unit(self, position: int, entry: dict[str, Any]) -> UnitSpec:
        minutes = entry.get("estimated_minutes")
        unit = UnitSpec(
            slug=entry["id"],
            kind=entry["kind"],
            title=str(entry.get("title") or ""),
            position=position,
            estimated_minutes=minutes if isinstance(minutes, int) else 0,
            file=entry["file"],
            rubric_file=entry.get("rubric"),
        )
        at: FieldPath = ("units", position)
        is_quiz = unit.kind == UnitKind.QUIZ
        main = self._unit_file(
            unit.file, YAML_SUFFIXES if is_quiz else MARKDOWN_SUFFIXES, (*at, "file")
        )
        rubric: tuple[str, bytes] | None = None
        if unit.kind == UnitKind.ASSIGNMENT and unit.rubric_file:
            rubric = self._unit_file(unit.rubric_file, YAML_SUFFIXES, (*at, "rubric"))
            if rubric is not None:
                unit.rubric = self._yaml_content(rubric, RubricSchema())
        if main is not None:
            if is_quiz:
                unit.quiz = self._yaml_content(main, QuizSchema())
            else:
                unit.markdown = self._markdown_content(main)
            unit.content_hash = _content_hash(
                unit.kind.encode(), main[1], rubric[1] if rubric else b""
            )
        return unit

    def _unit_file(
        self, name: str, suffixes: tuple[str, ...], at: FieldPath
    ) -> tuple[str, bytes] | None:
        """The catalogue-relative name and bytes of a unit's file, or None (problem noted)."""
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or "\\" in name:
            self.problem(f"Datei {name!r} muss im Modulordner liegen", at)
            return None
        if relative.suffix.lower() not in suffixes:
            self.problem(f"Datei {name!r}: Endung {' oder '.join(suffixes)} erwartet", at)
            return None
        path = self.folder / relative
        if not path.is_file():
            self.problem(f"Datei {name!r} fehlt", at)
            return None
        return f"{self.name}/{relative}", path.read_bytes()

    def _decode(self, content: bytes, file: str) -> str | None:
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError as error:
            self.problems.append(
                Problem(file, f"keine UTF-8-Datei (Byte {error.start}); bitte als UTF-8 speichern")
            )
            return None

    def _yaml_content(self, file: tuple[str, bytes], schema: Schema) -> dict[str, Any] | None:
        name, content = file
        text = self._decode(content, name)
        document = parse_yaml(text, name, self.problems) if text is not None else None
        if document is None:
            return None
        return validate_document(schema, document, name, self.problems)

    def _markdown_content(self, file: tuple[str, bytes]) -> str | None:
        name, content = file
        text = self._decode(content, name)
        if text is not None and not text.strip():
            self.problems.append(Problem(name, "Datei ist leer", line=1))
            return None
        return text


# --- links ------------------------------------------------------------------------------------


class _LinkTargets:
    """Which modules and units exist, to resolve and explain internal links."""

    def __init__(self, modules: list[ModuleSpec]) -> None:
        self.units = {module.slug: {unit.slug for unit in module.units} for module in modules}

    def resolver(self, module: str) -> LinkResolver:
        def resolve(link: InternalLink) -> str | None:
            target = link.module or module
            units = self.units.get(target)
            if units is None:
                return None
            if link.unit is None:
                return module_path(target)
            return unit_path(target, link.unit) if link.unit in units else None

        return resolve

    def explain(self, href: str, module: str) -> str:
        """Why ``href`` (written in ``module``) leads nowhere."""
        link = parse_internal_link(href)
        if link is None:
            return (
                f"ungültiger Verweis {href!r} "
                "(erwartet unit:EINHEIT, module:MODUL oder module:MODUL/EINHEIT)"
            )
        if link.module is None:
            return f"Verweis {href!r}: keine Einheit {link.unit!r} in diesem Modul"
        if link.module not in self.units:
            return f"Verweis {href!r}: kein Modul {link.module!r} im Katalog"
        return f"Verweis {href!r}: keine Einheit {link.unit!r} im Modul {link.module!r}"


def _lines_of(text: str, needles: list[str]) -> list[int | None]:
    """The line of each needle, in order of appearance (a needle found twice: two lines)."""
    lines = text.splitlines()
    found: list[int | None] = []
    start = 0
    for needle in needles:
        hit = next((i for i in range(start, len(lines)) if needle in lines[i]), None)
        if hit is None:
            hit = next((i for i in range(len(lines)) if needle in lines[i]), None)
        found.append(hit + 1 if hit is not None else None)
        start = hit if hit is not None else start
    return found


def _render_units(module: ModuleSpec, targets: _LinkTargets, problems: list[Problem]) -> None:
    """Render every Markdown unit of ``module``; each link that leads nowhere is a problem."""
    resolve = targets.resolver(module.slug)
    for unit in module.units:
        if unit.markdown is None:
            continue
        file = f"{module.slug}/{unit.file}"
        rendered = render_markdown(unit.markdown, resolve)
        unit.body_html = rendered.html
        lines = _lines_of(unit.markdown, rendered.links)
        unresolved = set(rendered.unresolved)
        for href, line in zip(rendered.links, lines, strict=True):
            message = None
            if href in unresolved:
                message = targets.explain(href, module.slug)
            elif not is_internal_href(href) and not href.lower().startswith(EXTERNAL_SCHEMES):
                message = (
                    f"Link-Ziel {href!r} wird nicht unterstützt: Webseiten mit https://…, "
                    "Einheiten mit unit:EINHEIT, Module mit module:MODUL"
                )
            if message:
                problems.append(Problem(file, message, line))
        for src, line in zip(
            rendered.images, _lines_of(unit.markdown, rendered.images), strict=True
        ):
            problems.append(Problem(file, f"Bild {src!r}: Bilder werden nicht angezeigt", line))


# --- the catalogue ----------------------------------------------------------------------------


def module_folders(root: Path) -> list[Path]:
    """The module folders of a catalogue (hidden and ``_`` folders are skipped)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def load_catalog(root: Path | str) -> Catalog:
    """Read and check the whole catalogue under ``root``; problems are collected, never raised."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(Problem(str(root), "Katalogordner nicht gefunden"))
        return Catalog(root, [], problems)
    modules: list[ModuleSpec] = []
    claimed: dict[str, str] = {}
    for folder in module_folders(root):
        reader = _ModuleReader(folder, problems)
        result = reader.read()
        if result is None:
            continue
        module, claimed_id = result
        modules.append(module)
        if claimed_id is None:
            continue
        if (first := claimed.setdefault(claimed_id, folder.name)) != folder.name:
            reader.problem(
                f"Modul-ID {claimed_id!r} doppelt (auch in {first}/{MODULE_FILE})", ("id",)
            )
    targets = _LinkTargets(modules)
    for module in modules:
        _render_units(module, targets, problems)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return Catalog(root, modules, problems)
