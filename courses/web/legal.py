"""The legal pages every public body's web application needs, reachable from every page's footer
without a launch: the Datenschutzerklärung (Art. 13 DSGVO), the Erklärung zur Barrierefreiheit
(EU model statement, Durchführungsbeschluss (EU) 2018/1523; BITV 2.0 § 12b) with its feedback
mechanism, and the Impressum. The operator's details come from the settings
(``config/settings.py``, ``LEGAL_SETTINGS``), so the operator fills them in without touching code;
what is not configured shows as ``[bitte ausfüllen]``.

The feedback mechanism is an e-mail address (``ACCESSIBILITY_CONTACT``) offered as a ``mailto:``
link with a prepared subject, not a form: the tool then stores nothing about the sender, needs no
spam protection or deletion rule of its own, and works without JavaScript; the operator's
mailbox is where such messages are handled anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from config.settings import LEGAL_SETTINGS
from lti_tool.languages import DEFAULT_LANGUAGE, LANGUAGE_PARAM, current_language

bp = Blueprint("legal", __name__, template_folder=str(Path(__file__).parent.parent / "templates"))


@dataclass(frozen=True)
class Detail:
    """One operator detail: its configured text, or the placeholder saying what to fill in."""

    value: str | None
    what: str

    @property
    def missing(self) -> bool:
        return not self.value

    @property
    def lines(self) -> list[str]:
        """The value split into lines at ``;`` or line breaks (for addresses)."""
        if not self.value:
            return []
        return [line.strip() for line in self.value.replace(";", "\n").splitlines() if line.strip()]


#: config.settings.LEGAL_PLACEHOLDER in the page's language.
PLACEHOLDER = lazy_gettext("[bitte ausfüllen]")

#: What each setting is, in the words the placeholder shows.
WHAT = {
    "OPERATOR_NAME": lazy_gettext("Name der Stelle, die Lotsen-LTI betreibt"),
    "OPERATOR_ADDRESS": lazy_gettext("Postanschrift"),
    "OPERATOR_REPRESENTATIVE": lazy_gettext("vertretungsberechtigte Person"),
    "OPERATOR_EMAIL": lazy_gettext("E-Mail-Adresse"),
    "OPERATOR_PHONE": lazy_gettext("Telefonnummer"),
    "DPO_CONTACT": lazy_gettext("Kontakt der oder des Datenschutzbeauftragten"),
    "ACCESSIBILITY_CONTACT": lazy_gettext("E-Mail-Adresse für Rückmeldungen zur Barrierefreiheit"),
    "ACCESSIBILITY_ENFORCEMENT": lazy_gettext("zuständige Stelle für das Durchsetzungsverfahren"),
    "ACCESSIBILITY_STATEMENT_DATE": lazy_gettext("Datum der Erklärung"),
    "PRIVACY_RETENTION": lazy_gettext("Speicherdauer"),
}


def operator_details() -> dict[str, Detail]:
    """Every legal setting of this installation, keyed by its lower-case name."""
    return {
        key.lower(): Detail(current_app.config.get(key) or None, WHAT[key])
        for key in LEGAL_SETTINGS
    }


def feedback_mailto(address: str) -> str:
    """A ``mailto:`` link with a prepared subject and a body that asks what is needed. The page
    address is not filled in: a tool URL can carry a launch token."""
    subject = _("Barriere in Lotsen-LTI")
    questions = (
        _("Auf welcher Seite (Name oder Weg dorthin)?"),
        _("Was hat nicht funktioniert?"),
        _("Welche Hilfsmittel nutzen Sie (z. B. Bildschirmleser, Vergrößerung, nur Tastatur)?"),
    )
    body = "\n\n".join(questions) + "\n"
    return f"mailto:{address}?subject={quote(subject)}&body={quote(body)}"


def _render(template: str, **extra: Any) -> str:
    details = operator_details()
    return render_template(
        template,
        details=details,
        placeholder=str(PLACEHOLDER),
        base_url=current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/"),
        **extra,
    )


@bp.get("/datenschutz")
def privacy() -> str:
    """Datenschutzerklärung nach Art. 13 DSGVO."""
    return _render("legal/datenschutz.html")


@bp.get("/barrierefreiheit")
def accessibility() -> str:
    """Erklärung zur Barrierefreiheit with the feedback mechanism."""
    contact = current_app.config.get("ACCESSIBILITY_CONTACT")
    return _render(
        "legal/barrierefreiheit.html", feedback_link=feedback_mailto(contact) if contact else None
    )


@bp.get("/impressum")
def imprint() -> str:
    """Impressum (§ 5 DDG, § 18 Abs. 2 MStV)."""
    return _render("legal/impressum.html")


@bp.url_defaults
def _page_language(_endpoint: str, values: dict[str, Any]) -> None:
    # The legal pages have no launch, so they are German unless the link names the language: a
    # link from an English page (its footer) keeps the reader in English.
    language = current_language()
    if language != DEFAULT_LANGUAGE:
        values.setdefault(LANGUAGE_PARAM, language)


@bp.app_context_processor
def _footer() -> dict[str, Any]:
    # base.html shows the footer links when this blueprint is there (lti_tool knows no courses).
    return {"legal_links": True}


def init_app(app: Flask) -> None:
    """Register the legal pages; warn in production about details still to fill in."""
    app.register_blueprint(bp)
    if app.config.get("ENV_NAME") == "production":
        missing = [key for key in LEGAL_SETTINGS if not app.config.get(key)]
        if missing:
            app.logger.warning(
                "Rechtliche Angaben fehlen (Impressum, Datenschutz, Barrierefreiheit): %s",
                ", ".join(missing),
            )
