"""Why a login or launch was refused: German text for the user, a hint for the LMS admin."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    title: str
    explanation: str
    admin_hint: str
    status: int = 400


PROBLEMS: dict[str, Problem] = {
    "login_params": Problem(
        "Unvollständige Anmeldeanfrage",
        "Das LMS hat die Anmeldung ohne Issuer (iss), login_hint oder target_link_uri gestartet.",
        "Prüfen Sie, ob als „Initiate login URL“ die Login-Adresse dieses Werkzeugs "
        "eingetragen ist "
        "und die LTI-Version 1.3 gewählt ist.",
    ),
    "registration": Problem(
        "Plattform nicht registriert",
        "Dieses LMS (Issuer und Client-ID) ist im Werkzeug nicht registriert.",
        "Registrieren Sie die Plattform mit „flask --app wsgi lti platform add …“ und genau dem "
        "Issuer (Platform ID) und der Client-ID, die das LMS anzeigt.",
    ),
    "registration_ambiguous": Problem(
        "Client-ID fehlt",
        "Für diesen Issuer sind mehrere Registrierungen hinterlegt, das LMS hat aber keine "
        "Client-ID geschickt.",
        "Das LMS muss bei der Login-Initiierung den Parameter client_id mitsenden.",
    ),
    "target_link_uri": Problem(
        "Ziel-Adresse gehört nicht zu diesem Werkzeug",
        "Der Start verweist auf eine Adresse (target_link_uri), die nicht zu diesem "
        "Werkzeug gehört.",
        "Tragen Sie im LMS als Tool-URL die Adresse ein, die „flask --app wsgi lti config“ "
        "ausgibt.",
    ),
    "state": Problem(
        "Sitzung nicht zuzuordnen",
        "Der Start konnte der Anmeldung in diesem Browser nicht zugeordnet werden. Meist blockiert "
        "der Browser Cookies in eingebetteten Seiten, oder die Anmeldung dauerte länger als fünf "
        "Minuten.",
        "Starten Sie das Werkzeug erneut. Hilft das nicht, stellen Sie im LMS den Startcontainer "
        "auf „Neues Fenster“.",
    ),
    "jwt_format": Problem(
        "Ungültiges Start-Token",
        "Das LMS hat kein lesbares id_token (JWT) gesendet.",
        "Prüfen Sie, ob die „Redirection URI“ im LMS genau die Launch-Adresse dieses "
        "Werkzeugs ist.",
    ),
    "nonce": Problem(
        "Start bereits verwendet",
        "Dieser Start wurde bereits verwendet oder ist abgelaufen. Jeder Start gilt nur einmal.",
        "Starten Sie das Werkzeug im LMS neu. Wiederholte Fehler können auf einen Replay-Versuch "
        "hindeuten.",
    ),
    "kid_missing": Problem(
        "Schlüsselkennung fehlt",
        "Das Start-Token nennt keinen Schlüssel (kid), mit dem es signiert wurde.",
        "Die Plattform muss ihre Tokens mit einer Schlüsselkennung (kid) signieren.",
    ),
    "kid_unknown": Problem(
        "Unbekannter Schlüssel",
        "Das Start-Token ist mit einem Schlüssel signiert, den die Plattform nicht veröffentlicht.",
        "Prüfen Sie die „Public keyset URL“ der Registrierung "
        "(flask --app wsgi lti platform list).",
    ),
    "keyset_unreachable": Problem(
        "Schlüssel der Plattform nicht abrufbar",
        "Die öffentlichen Schlüssel der Plattform konnten nicht geladen werden.",
        "Prüfen Sie, ob die Keyset-Adresse der Registrierung vom Werkzeug-Server erreichbar ist.",
        status=502,
    ),
    "algorithm": Problem(
        "Unzulässiges Signaturverfahren",
        "Das Start-Token ist nicht mit RS256 signiert. Andere Verfahren werden nicht angenommen.",
        "LTI 1.3 verlangt RS256-signierte Tokens.",
    ),
    "signature": Problem(
        "Signatur ungültig",
        "Die Signatur des Start-Tokens stimmt nicht. Das Token wurde verändert oder nicht von "
        "dieser Plattform ausgestellt.",
        "Prüfen Sie Issuer und Keyset-Adresse der Registrierung.",
    ),
    "audience": Problem(
        "Falscher Empfänger",
        "Das Start-Token ist nicht für dieses Werkzeug ausgestellt (aud/azp passen nicht zur "
        "Client-ID).",
        "Prüfen Sie die Client-ID der Registrierung.",
    ),
    "expired": Problem(
        "Start-Token abgelaufen",
        "Das Start-Token ist abgelaufen.",
        "Starten Sie erneut. Tritt der Fehler immer auf, prüfen Sie die Uhrzeit der Server.",
    ),
    "not_yet_valid": Problem(
        "Start-Token aus der Zukunft",
        "Das Start-Token ist laut Zeitstempel noch nicht gültig.",
        "Prüfen Sie die Uhrzeit (NTP) von LMS- und Werkzeug-Server.",
    ),
    "claims": Problem(
        "Pflichtangabe fehlt",
        "Dem Start fehlt eine Angabe, die LTI 1.3 verlangt.",
        "Das LMS sendet keinen vollständigen LTI-1.3-Start; die Einzelheit steht unten.",
    ),
    "version": Problem(
        "Falsche LTI-Version",
        "Das Werkzeug unterstützt nur LTI 1.3.0.",
        "Stellen Sie die LTI-Version der Werkzeugkonfiguration im LMS auf 1.3.",
    ),
    "message_type": Problem(
        "Nachrichtentyp nicht unterstützt",
        "Der Start hat keinen oder einen unbekannten Nachrichtentyp.",
        "Unterstützt werden LtiResourceLinkRequest und LtiDeepLinkingRequest.",
    ),
    "deployment": Problem(
        "Deployment nicht registriert",
        "Die Deployment-ID dieses Starts ist für die Plattform nicht registriert.",
        "Fügen Sie sie hinzu: „flask --app wsgi lti deployment add PLATTFORM DEPLOYMENT-ID“.",
    ),
    "invalid": Problem(
        "Start abgelehnt",
        "Der Start aus dem LMS war ungültig.",
        "Die technische Einzelheit steht unten.",
    ),
    "session": Problem(
        "Sitzung abgelaufen",
        "Ihre Sitzung ist abgelaufen oder ungültig. Bitte starten Sie das Werkzeug im LMS erneut.",
        "Sitzungen gelten einige Stunden nach dem Start aus dem LMS.",
        status=401,
    ),
    "forbidden": Problem(
        "Kein Zugriff",
        "Diese Seite steht Ihnen in Ihrer Rolle oder in diesem Kurs nicht zur Verfügung.",
        "Rollen kommen aus dem LMS: Lehrende werden Digital-Lotsen, alle anderen "
        "Digital-Navigatoren.",
        status=403,
    ),
}


class LaunchError(Exception):
    """A refused login, launch or launch session. ``detail`` is technical and never personal."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

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
