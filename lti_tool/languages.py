"""The UI's languages and how a request picks one (Flask-Babel's locale selector, which the app
factory installs). The catalogues are in ``translations/`` (README „Sprachen“).

A request of a launch shows the language the platform sent for the user (the launch
presentation claim's ``locale``, a BCP 47 tag such as ``en-GB``) when the tool has it, else
German. A page without a launch is German unless its link names a language
with ``?lang=`` (the footer of an English page does, for the legal pages). The browser's
``Accept-Language`` is not used: the LMS's setting is the user's own choice for this tool, the
browser's often only the operating system's, and a page must not switch language between the
LMS frame and a page opened from it."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from flask_babel import get_locale

#: The languages of the UI: German is the source of every text, English is translated. The
#: module content of the catalogue (courses/catalog/) is German in every UI language.
UI_LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
#: The query parameter that names the UI language of a page without a launch.
LANGUAGE_PARAM = "lang"


def ui_language(tag: str | None) -> str:
    """The UI language for a BCP 47 tag (``en-GB`` → ``en``, ``de-AT`` → ``de``): its primary
    language if the UI has it, else German."""
    # Moodle sends its language pack's code, with an underscore (``current_language()`` in
    # mod/lti/locallib.php: ``en``, ``en_us``, ``de_du``).
    primary = (tag or "").replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in UI_LANGUAGES else DEFAULT_LANGUAGE


def select_locale() -> str:
    """The UI language of this request: the launch's locale, else ``?lang=``, else German."""
    launch = g.get("launch")
    if launch is not None:
        return ui_language(launch.locale)
    if has_request_context():
        return ui_language(request.args.get(LANGUAGE_PARAM))
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language this response is shown in (``<html lang>``), e.g. ``"de"``."""
    locale = get_locale()
    return str(locale.language) if locale is not None else DEFAULT_LANGUAGE


def template_globals() -> dict[str, Any]:
    """``ui_language`` for every template (a context processor of the app)."""
    return {"ui_language": current_language()}
