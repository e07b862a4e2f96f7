"""The baseline of the launch benchmark: a minimal LTI 1.3 tool written with pylti1p3's documented
Flask API and nothing else, as the pylti1p3 README and its Flask example show it.

``FlaskOIDCLogin`` with the cookie check, ``FlaskMessageLaunch`` with the platform key cached
(``set_public_key_caching``, README "Cache for Public Key"), ``FlaskCacheDataStorage`` over
Flask-Caching's ``SimpleCache`` (one cache per process, as in the example), ``ToolConfDict``, and a
trivial page after the launch that restores it with ``from_cache``. No database, no users, no
nonce consumption, no error pages: the least work pylti1p3 lets a tool do for a launch.

Its launch data lives in one process, so login, launch and page must reach the same worker; the
benchmark pins each launch to one single-worker instance for that (a sticky load balancer) and
shows in its split run what happens without.

Served by gunicorn: ``BENCH_BASELINE_CONFIG=conf.json gunicorn -c config/gunicorn.conf.py
bench.baseline_tool:app``. The JSON names issuer, client_id, deployment_id, auth_login_url,
auth_token_url, key_set_url, launch_url, private_key_file, public_key_file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_caching import Cache
from pylti1p3.contrib.flask import (
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.tool_config import ToolConfDict


def _tool_conf(settings: dict[str, str]) -> ToolConfDict:
    conf = ToolConfDict(
        {
            settings["issuer"]: [
                {
                    "default": True,
                    "client_id": settings["client_id"],
                    "auth_login_url": settings["auth_login_url"],
                    "auth_token_url": settings["auth_token_url"],
                    "auth_audience": None,
                    "key_set_url": settings["key_set_url"],
                    "key_set": None,
                    "deployment_ids": [settings["deployment_id"]],
                }
            ]
        }
    )
    private = Path(settings["private_key_file"]).read_text()
    public = Path(settings["public_key_file"]).read_text()
    conf.set_private_key(settings["issuer"], private, client_id=settings["client_id"])
    conf.set_public_key(settings["issuer"], public, client_id=settings["client_id"])
    return conf


def create_app(settings: dict[str, str]) -> Flask:
    """The baseline tool for ``settings`` (see the module docstring)."""
    app = Flask("bench_baseline", template_folder=str(Path(__file__).parent / "templates"))
    app.config.update(CACHE_TYPE="SimpleCache", CACHE_DEFAULT_TIMEOUT=600)
    cache = Cache(app)
    tool_conf = _tool_conf(settings)
    launch_url = settings["launch_url"]

    def storage() -> FlaskCacheDataStorage:
        return FlaskCacheDataStorage(cache)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        oidc_login = FlaskOIDCLogin(FlaskRequest(), tool_conf, launch_data_storage=storage())
        return oidc_login.enable_check_cookies().redirect(launch_url)

    @app.post("/launch")
    def launch() -> ResponseReturnValue:
        data_storage = storage()
        message_launch = FlaskMessageLaunch(
            FlaskRequest(), tool_conf, launch_data_storage=data_storage
        )
        message_launch.set_public_key_caching(data_storage, cache_lifetime=7200)
        message_launch.get_launch_data()
        return redirect(url_for("page", launch_id=message_launch.get_launch_id()), code=303)

    @app.get("/page/<launch_id>")
    def page(launch_id: str) -> ResponseReturnValue:
        message_launch = FlaskMessageLaunch.from_cache(
            launch_id, FlaskRequest(), tool_conf, launch_data_storage=storage()
        )
        data = message_launch.get_launch_data()
        return render_template(
            "baseline_page.html",
            title=data.get("https://purl.imsglobal.org/spec/lti/claim/resource_link", {}).get(
                "title", ""
            ),
            name=data.get("name", ""),
            course=data.get("https://purl.imsglobal.org/spec/lti/claim/context", {}).get(
                "title", ""
            ),
        )

    return app


def _from_environment() -> Flask:
    path = os.environ.get("BENCH_BASELINE_CONFIG")
    if not path:
        raise RuntimeError("BENCH_BASELINE_CONFIG fehlt")
    return create_app(json.loads(Path(path).read_text()))


if os.environ.get("BENCH_BASELINE_CONFIG"):
    app = _from_environment()
