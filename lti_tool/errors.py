"""Why a login or launch was refused: text for the user, a hint for the LMS admin (German, and
translated when the page is shown in another language)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext


@dataclass(frozen=True)
class Problem:
    """An error page's texts; module-level ones are lazy, translated when the page renders."""

    title: str
    explanation: str
    admin_hint: str
    status: int = 400


PROBLEMS: dict[str, Problem] = {
    "login_params": Problem(
        lazy_gettext("Unvollständige Anmeldeanfrage"),
        lazy_gettext(
            "Das LMS hat die Anmeldung ohne Issuer (iss), login_hint oder target_link_uri "
            "gestartet."
        ),
        lazy_gettext(
            "Prüfen Sie, ob als „Initiate login URL“ die Login-Adresse dieses Werkzeugs "
            "eingetragen ist "
            "und die LTI-Version 1.3 gewählt ist."
        ),
    ),
    "registration": Problem(
        lazy_gettext("Plattform nicht registriert"),
        lazy_gettext("Dieses LMS (Issuer und Client-ID) ist im Werkzeug nicht registriert."),
        lazy_gettext(
            "Registrieren Sie die Plattform mit „flask --app wsgi lti platform add …“ und genau "
            "dem Issuer (Platform ID) und der Client-ID, die das LMS anzeigt."
        ),
    ),
    "registration_ambiguous": Problem(
        lazy_gettext("Client-ID fehlt"),
        lazy_gettext(
            "Für diesen Issuer sind mehrere Registrierungen hinterlegt, das LMS hat aber keine "
            "Client-ID geschickt."
        ),
        lazy_gettext("Das LMS muss bei der Login-Initiierung den Parameter client_id mitsenden."),
    ),
    "target_link_uri": Problem(
        lazy_gettext("Ziel-Adresse gehört nicht zu diesem Werkzeug"),
        lazy_gettext(
            "Der Start verweist auf eine Adresse (target_link_uri), die nicht zu diesem "
            "Werkzeug gehört."
        ),
        lazy_gettext(
            "Tragen Sie im LMS als Tool-URL die Adresse ein, die „flask --app wsgi lti config“ "
            "ausgibt."
        ),
    ),
    "state": Problem(
        lazy_gettext("Sitzung nicht zuzuordnen"),
        lazy_gettext(
            "Der Start konnte der Anmeldung in diesem Browser nicht zugeordnet werden. Meist "
            "blockiert der Browser Cookies in eingebetteten Seiten, oder die Anmeldung dauerte "
            "länger als fünf Minuten."
        ),
        lazy_gettext(
            "Starten Sie das Werkzeug erneut. Hilft das nicht, stellen Sie im LMS den "
            "Startcontainer auf „Neues Fenster“."
        ),
    ),
    "jwt_format": Problem(
        lazy_gettext("Ungültiges Start-Token"),
        lazy_gettext("Das LMS hat kein lesbares id_token (JWT) gesendet."),
        lazy_gettext(
            "Prüfen Sie, ob die „Redirection URI“ im LMS genau die Launch-Adresse dieses "
            "Werkzeugs ist."
        ),
    ),
    "nonce": Problem(
        lazy_gettext("Start bereits verwendet"),
        lazy_gettext(
            "Dieser Start wurde bereits verwendet oder ist abgelaufen. Jeder Start gilt nur einmal."
        ),
        lazy_gettext(
            "Starten Sie das Werkzeug im LMS neu. Wiederholte Fehler können auf einen "
            "Replay-Versuch hindeuten."
        ),
    ),
    "kid_missing": Problem(
        lazy_gettext("Schlüsselkennung fehlt"),
        lazy_gettext("Das Start-Token nennt keinen Schlüssel (kid), mit dem es signiert wurde."),
        lazy_gettext("Die Plattform muss ihre Tokens mit einer Schlüsselkennung (kid) signieren."),
    ),
    "kid_unknown": Problem(
        lazy_gettext("Unbekannter Schlüssel"),
        lazy_gettext(
            "Das Start-Token ist mit einem Schlüssel signiert, den die Plattform nicht "
            "veröffentlicht."
        ),
        lazy_gettext(
            "Prüfen Sie die „Public keyset URL“ der Registrierung "
            "(flask --app wsgi lti platform list)."
        ),
    ),
    "keyset_unreachable": Problem(
        lazy_gettext("Schlüssel der Plattform nicht abrufbar"),
        lazy_gettext("Die öffentlichen Schlüssel der Plattform konnten nicht geladen werden."),
        lazy_gettext(
            "Prüfen Sie, ob die Keyset-Adresse der Registrierung vom Werkzeug-Server erreichbar "
            "ist."
        ),
        status=502,
    ),
    "algorithm": Problem(
        lazy_gettext("Unzulässiges Signaturverfahren"),
        lazy_gettext(
            "Das Start-Token ist nicht mit RS256 signiert. Andere Verfahren werden nicht "
            "angenommen."
        ),
        lazy_gettext("LTI 1.3 verlangt RS256-signierte Tokens."),
    ),
    "signature": Problem(
        lazy_gettext("Signatur ungültig"),
        lazy_gettext(
            "Die Signatur des Start-Tokens stimmt nicht. Das Token wurde verändert oder nicht von "
            "dieser Plattform ausgestellt."
        ),
        lazy_gettext("Prüfen Sie Issuer und Keyset-Adresse der Registrierung."),
    ),
    "audience": Problem(
        lazy_gettext("Falscher Empfänger"),
        lazy_gettext(
            "Das Start-Token ist nicht für dieses Werkzeug ausgestellt (aud/azp passen nicht zur "
            "Client-ID)."
        ),
        lazy_gettext("Prüfen Sie die Client-ID der Registrierung."),
    ),
    "expired": Problem(
        lazy_gettext("Start-Token abgelaufen"),
        lazy_gettext("Das Start-Token ist abgelaufen."),
        lazy_gettext(
            "Starten Sie erneut. Tritt der Fehler immer auf, prüfen Sie die Uhrzeit der Server."
        ),
    ),
    "not_yet_valid": Problem(
        lazy_gettext("Start-Token aus der Zukunft"),
        lazy_gettext("Das Start-Token ist laut Zeitstempel noch nicht gültig."),
        lazy_gettext("Prüfen Sie die Uhrzeit (NTP) von LMS- und Werkzeug-Server."),
    ),
    "claims": Problem(
        lazy_gettext("Pflichtangabe fehlt"),
        lazy_gettext("Dem Start fehlt eine Angabe, die LTI 1.3 verlangt."),
        lazy_gettext(
            "Das LMS sendet keinen vollständigen LTI-1.3-Start; die Einzelheit steht unten."
        ),
    ),
    "version": Problem(
        lazy_gettext("Falsche LTI-Version"),
        lazy_gettext("Das Werkzeug unterstützt nur LTI 1.3.0."),
        lazy_gettext("Stellen Sie die LTI-Version der Werkzeugkonfiguration im LMS auf 1.3."),
    ),
    "message_type": Problem(
        lazy_gettext("Nachrichtentyp nicht unterstützt"),
        lazy_gettext("Der Start hat keinen oder einen unbekannten Nachrichtentyp."),
        lazy_gettext("Unterstützt werden LtiResourceLinkRequest und LtiDeepLinkingRequest."),
    ),
    "deployment": Problem(
        lazy_gettext("Deployment nicht registriert"),
        lazy_gettext("Die Deployment-ID dieses Starts ist für die Plattform nicht registriert."),
        lazy_gettext(
            "Fügen Sie sie hinzu: „flask --app wsgi lti deployment add PLATTFORM DEPLOYMENT-ID“."
        ),
    ),
    "invalid": Problem(
        lazy_gettext("Start abgelehnt"),
        lazy_gettext("Der Start aus dem LMS war ungültig."),
        lazy_gettext("Die technische Einzelheit steht unten."),
    ),
    "session": Problem(
        lazy_gettext("Sitzung abgelaufen"),
        lazy_gettext(
            "Ihre Sitzung ist abgelaufen oder ungültig. Bitte starten Sie das Werkzeug im LMS "
            "erneut."
        ),
        lazy_gettext("Sitzungen gelten einige Stunden nach dem Start aus dem LMS."),
        status=401,
    ),
    "forbidden": Problem(
        lazy_gettext("Kein Zugriff"),
        lazy_gettext(
            "Diese Seite steht Ihnen in Ihrer Rolle oder in diesem Kurs nicht zur Verfügung."
        ),
        lazy_gettext(
            "Rollen kommen aus dem LMS: Lehrende werden Digital-Lotsen, alle anderen "
            "Digital-Navigatoren."
        ),
        status=403,
    ),
}


class Refusal(Exception):
    """A refused request with a ``code`` naming its :class:`Problem`; ``detail`` is technical
    (URLs, status codes) and never personal."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class LaunchError(Refusal):
    """A refused login, launch or launch session."""

    @property
    def problem(self) -> Problem:
        return PROBLEMS.get(self.code, PROBLEMS["invalid"])

    @property
    def status(self) -> int:
        return self.problem.status


# pylti1p3 raises LtiException with English texts; map the ones it can raise before our checks.
PYLTI_MESSAGES = {
    "Missing state param": "state",
    "State not found": "state",
    "Missing id_token": "jwt_format",
    "Invalid id_token, JWT must contain 3 parts": "jwt_format",
    "Invalid JWT format, can't be decoded": "jwt_format",
    "Registration not found.": "registration",
    "Client id not registered for this issuer": "registration",
    "Unable to find deployment": "deployment",
    "deployment_id is not set in jwt body": "claims",
    '"iss" is empty': "claims",
    "Could not find issuer": "login_params",
    "Could not find login hint": "login_params",
    "Could not find registration details": "registration",
    "Must have a user (sub)": "claims",
    "Incorrect version, expected 1.3.0": "version",
    "Missing Roles Claim": "claims",
    "Missing Resource Link Id": "claims",
    "Invalid message type": "message_type",
    "Unrecognized message type": "message_type",
}


def from_pylti(error: Exception) -> LaunchError:
    """Translate a pylti1p3 exception into a :class:`LaunchError`."""
    message = str(error)
    return LaunchError(PYLTI_MESSAGES.get(message, "invalid"), message)
