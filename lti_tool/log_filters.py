"""Logs carry ids, never names, e-mails, submission text or bearer tokens."""

from __future__ import annotations

import logging
import re

# The launch token travels in the query string of GET requests (`lt=`); the OIDC parameters of a
# login carry hints that identify a person at the platform; a Dynamic Registration call carries
# the one-time link (`link=`, or in the path when ILIAS extended a link without query) and the
# platform's registration token.
_SECRET_PARAMETERS = re.compile(
    r"\b(lt|id_token|login_hint|lti_message_hint|state|nonce|link|registration_token)=[^&\s\"]+"
)
_REGISTRATION_PATH = re.compile(r"(/lti/register/)[^&?\s\"]+")


def redact(text: str) -> str:
    """Replace the values of secret query parameters in ``text``."""
    return _REGISTRATION_PATH.sub(r"\1…", _SECRET_PARAMETERS.sub(r"\1=…", text))


class RedactSecrets(logging.Filter):
    """A filter for request loggers (werkzeug's development server) that redacts query values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install() -> None:
    """Attach the filter to the request loggers once."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
