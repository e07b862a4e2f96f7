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

from config.settings import LEGAL_PLACEHOLDER, LEGAL_SETTINGS

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


#: What each setting is, in the words the placeholder shows.
WHAT = {
    "OPERATOR_NAME": "Name der Stelle, die Lotsen-LTI betreibt",
    "OPERATOR_ADDRESS": "Postanschrift",
    "OPERATOR_REPRESENTATIVE": "vertretungsberechtigte Person",
    "OPERATOR_EMAIL": "E-Mail-Adresse",
    "OPERATOR_PHONE": "Telefonnummer",
    "DPO_CONTACT": "Kontakt der oder des Datenschutzbeauftragten",
    "ACCESSIBILITY_CONTACT": "E-Mail-Adresse für Rückmeldungen zur Barrierefreiheit",
    "ACCESSIBILITY_ENFORCEMENT": "zuständige Stelle für das Durchsetzungsverfahren",
    "ACCESSIBILITY_STATEMENT_DATE": "Datum der Erklärung",
    "PRIVACY_RETENTION": "Speicherdauer",
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
    subject = "Barriere in Lotsen-LTI"
    body = (
        "Auf welcher Seite (Name oder Weg dorthin)?\n\n"
        "Was hat nicht funktioniert?\n\n"
        "Welche Hilfsmittel nutzen Sie (z. B. Bildschirmleser, Vergrößerung, nur Tastatur)?\n"
    )
    return f"mailto:{address}?subject={quote(subject)}&body={quote(body)}"


def _render(template: str, **extra: Any) -> str:
    details = operator_details()
    return render_template(
        template,
        details=details,
        placeholder=LEGAL_PLACEHOLDER,
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
