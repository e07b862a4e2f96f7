"""OIDC third-party initiated login (LTI 1.3 core §5.1.1): checks the initiation, then answers
with pylti1p3's cookie check page and the redirect to the platform's authentication endpoint."""

from __future__ import annotations

from flask import Response, request
from flask_babel import gettext as _
from pylti1p3.contrib.flask import FlaskOIDCLogin, FlaskRequest
from pylti1p3.contrib.flask.cookie import FlaskCookieService
from pylti1p3.exception import LtiException
from pylti1p3.oidc_login import OIDCException

from ..errors import LaunchError, from_pylti
from ..extensions import db
from ..models import Registration
from ..urls import launch_url, points_at_this_tool
from .storage import DatabaseLaunchDataStorage
from .tool_conf import DatabaseToolConf


class ToolCookieService(FlaskCookieService):
    """The OIDC state cookie. Over HTTPS it is ``Secure; SameSite=None; Partitioned`` (CHIPS) so
    that it survives inside the LMS iframe in browsers that block third-party cookies."""

    def update_response(self, response: Response) -> None:
        secure = bool(self._request is not None and self._request.is_secure())
        for key, data in self._cookie_data_to_set.items():
            response.set_cookie(
                key,
                data["value"],
                max_age=data["exp"],
                path="/",
                httponly=True,
                secure=secure,
                samesite="None" if secure else "Lax",
                partitioned=secure,
            )


#: pylti1p3's marker of the request after its cookie check page
#: (``OIDCLogin._is_new_window_request``).
NEW_WINDOW_PARAM = "lti1p3_new_window"


def pylti_request() -> FlaskRequest:
    return FlaskRequest(request_is_secure=request.is_secure)


def oidc_login() -> Response:
    """Answer an OIDC third-party login initiation (GET or POST) with the redirect to the
    platform's authentication endpoint, after pylti1p3's cookie check page."""
    params = request.values
    iss, login_hint = params.get("iss"), params.get("login_hint")
    target_link_uri = params.get("target_link_uri")
    if not iss or not login_hint or not target_link_uri:
        raise LaunchError("login_params")
    if not points_at_this_tool(target_link_uri):
        raise LaunchError("target_link_uri", "target_link_uri der Login-Anfrage")
    conf = DatabaseToolConf()
    client_id = params.get("client_id")
    # pylti1p3's cookie check page comes first and reloads itself with this parameter; the
    # registration is looked up for that second request, which redirects to the platform (an
    # unknown one is refused there, before any state is stored).
    if NEW_WINDOW_PARAM in params and conf.find_stored_registration(iss, client_id) is None:
        if (
            not client_id
            and db.session.scalars(
                db.select(Registration.id).where(Registration.issuer == iss)
            ).first()
        ):
            raise LaunchError("registration_ambiguous")
        raise LaunchError("registration", f"iss={iss} client_id={client_id}")
    login = FlaskOIDCLogin(
        pylti_request(),
        conf,
        cookie_service=ToolCookieService(pylti_request()),
        launch_data_storage=DatabaseLaunchDataStorage(),
    )
    login.enable_check_cookies(
        main_msg=_("Ihr Browser blockiert Cookies in eingebetteten Seiten."),
        click_msg=_("Lotsen-LTI in einem neuen Fenster öffnen"),
        loading_msg=_("Wird geladen …"),
    )
    try:
        return login.redirect(launch_url())
    except (LtiException, OIDCException) as error:
        raise from_pylti(error) from error
