"""The demo LMS served with the tool on a loopback port, as ``make run`` serves both."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import flask_migrate
from flask import Flask
from werkzeug.serving import make_server

import courses
import demo_lms
from demo_lms import store
from lti_tool import create_app
from lti_tool.extensions import db


@dataclass
class Served:
    app: Flask
    base: str

    @property
    def demo(self) -> str:
        return f"{self.base}/demo-lms"


@contextmanager
def serve_demo(tmp: Path) -> Iterator[Served]:
    """Tool and demo LMS on one port, the demo registered with ``demo-lms setup``."""
    app = create_app(
        {
            "LOTSEN_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/t.sqlite",
            "DEMO_LMS": True,
            "DEMO_LMS_DATABASE": str(tmp / "demo_lms.sqlite"),
        },
        components=(courses, demo_lms),
    )
    with app.app_context():
        flask_migrate.upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = app.test_cli_runner().invoke(args=["demo-lms", "setup", "--base-url", base])
        assert result.exit_code == 0, result.output
        assert f"Demo-LMS: {base}/demo-lms/" in result.output
        yield Served(app, base)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        store.dispose(app)
        with app.app_context():
            db.engine.dispose()
