"""The deployment files in config/ fit the tool they deploy: every command they run exists, nginx
serves the static folders the app has and lets through the requests the app accepts, gunicorn's
defaults are the documented ones, and the environment template names only settings that exist."""

from __future__ import annotations

import configparser
import os
import re
import runpy
from pathlib import Path

import pytest
import yaml
from flask import Flask

from config.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"
INSTALL_ROOT = "/opt/lotsen-lti"
NGINX = (CONFIG / "nginx" / "lotsen-lti.conf").read_text()


def _cli_exists(app: Flask, words: list[str]) -> bool:
    result = app.test_cli_runner().invoke(args=[*words, "--help"])
    return result.exit_code == 0


def _flask_commands(command: str) -> list[str]:
    """The words after ``flask --app wsgi`` in a shell command line."""
    words = command.split()
    index = words.index("wsgi")
    assert words[index - 1] == "--app"
    return words[index + 1 :]


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(CONFIG / "systemd" / name)
    return parser


def _exec_starts(name: str) -> list[str]:
    """Every ExecStart= line of a unit (a oneshot service may run several commands in turn)."""
    text = (CONFIG / "systemd" / name).read_text()
    return re.findall(r"^ExecStart=(.+)$", text, re.M)


@pytest.mark.parametrize(
    ("unit", "commands"),
    [
        ("lotsen-lti-gradebook.service", [["gradebook", "worker"]]),
        # Expired OIDC states, then the retention rule (courses/services/privacy.py).
        ("lotsen-lti-cleanup.service", [["lti", "purge"], ["courses", "privacy", "purge"]]),
    ],
)
def test_systemd_units_run_commands_the_tool_has(
    sqlite_app: Flask, unit: str, commands: list[list[str]]
) -> None:
    exec_starts = _exec_starts(unit)
    for exec_start in exec_starts:
        assert exec_start.startswith(f"{INSTALL_ROOT}/.venv/bin/flask --app wsgi ")
    assert [_flask_commands(line) for line in exec_starts] == commands
    for command in commands:
        assert _cli_exists(sqlite_app, command)


def test_web_unit_runs_gunicorn_with_the_repository_config() -> None:
    service = _unit("lotsen-lti-web.service")["Service"]
    assert service["ExecStart"] == (
        f"{INSTALL_ROOT}/.venv/bin/gunicorn -c {INSTALL_ROOT}/config/gunicorn.conf.py wsgi:app"
    )
    assert service["EnvironmentFile"] == "/etc/lotsen-lti/lotsen-lti.env"
    # The upload folder of the environment template is the only writable place.
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "lotsen-lti"


def test_cleanup_timer_starts_the_cleanup_service_daily() -> None:
    timer = _unit("lotsen-lti-cleanup.timer")
    assert timer["Timer"]["OnCalendar"].startswith("*-*-* ")
    assert timer["Timer"]["Persistent"] == "true"
    assert (CONFIG / "systemd" / "lotsen-lti-cleanup.service").exists()


def test_compose_services_run_commands_the_tool_has(sqlite_app: Flask) -> None:
    compose = yaml.safe_load((CONFIG / "container" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "setup", "web", "gradebook"}
    assert _flask_commands(" ".join(services["gradebook"]["command"])) == ["gradebook", "worker"]
    setup = services["setup"]["command"][-1]
    steps = [_flask_commands(step) for step in setup.split("&&")]
    assert steps == [["db", "upgrade"], ["lti", "keys", "ensure"], ["courses", "import"]]
    for words in [*steps, ["gradebook", "worker"]]:
        assert _cli_exists(sqlite_app, words), words
    # No secret in the file: every secret comes from the .env beside it.
    environment = services["web"]["environment"]
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]


def test_containerfile_copies_what_exists_and_starts_gunicorn_with_its_config() -> None:
    text = (CONFIG / "container" / "Containerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _target = line.split()
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), source
    assert 'CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]' in text


def _nginx_locations() -> dict[str, str]:
    """Location prefix -> alias of the HTTPS server."""
    return dict(re.findall(r"location (\S+) \{\s*alias (\S+);", NGINX))


def test_nginx_serves_every_static_folder_of_the_app(sqlite_app: Flask) -> None:
    aliases = _nginx_locations()
    served = {}
    for rule in sqlite_app.url_map.iter_rules():
        if rule.endpoint != "static" and not rule.endpoint.endswith(".static"):
            continue
        prefix = rule.rule.split("<", 1)[0]
        if rule.endpoint == "static":
            folder = sqlite_app.static_folder
        else:
            folder = sqlite_app.blueprints[rule.endpoint.rsplit(".", 1)[0]].static_folder
        assert folder is not None
        relative = Path(folder).resolve().relative_to(PROJECT_ROOT)
        served[prefix] = f"{INSTALL_ROOT}/{relative}/"
    assert served, "the app has static folders"
    assert {prefix: aliases.get(prefix) for prefix in served} == served


def test_nginx_lets_through_what_the_tool_accepts(sqlite_app: Flask) -> None:
    limit = re.search(r"client_max_body_size (\d+)m;", NGINX)
    assert limit is not None
    # The tool answers oversized uploads itself (German page, text kept): nginx must not
    # refuse a request the tool would accept.
    assert int(limit.group(1)) * 1024 * 1024 == sqlite_app.config["MAX_CONTENT_LENGTH"]


def test_nginx_sends_the_headers_proxy_fix_trusts() -> None:
    from config.settings import ProductionSettings

    assert ProductionSettings.PROXY_FIX is True
    headers = dict(re.findall(r"proxy_set_header (\S+) (\S+);", NGINX))
    # ProxyFix(x_for=1, x_proto=1, x_host=1) in lti_tool.create_app.
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Forwarded-Host"] == "$host"
    assert "Strict-Transport-Security" in NGINX
    # The tool is framed by the LMS: nginx must not forbid that.
    assert not re.search(r"add_header\s+X-Frame-Options", NGINX)


def test_no_log_of_nginx_or_gunicorn_carries_the_query_string() -> None:
    log_format = re.search(r"log_format lotsen_lti (.+?);", NGINX, re.S)
    assert log_format is not None
    assert "$uri" in log_format.group(1)
    assert "$request " not in log_format.group(1) and "$args" not in log_format.group(1)
    assert re.findall(r"access_log (\S+) (\S+);", NGINX)[0][1] == "lotsen_lti"
    gunicorn = _gunicorn({})
    assert "%(U)s" in str(gunicorn["access_log_format"])
    assert "%(r)s" not in str(gunicorn["access_log_format"])
    assert "%(q)s" not in str(gunicorn["access_log_format"])


def _gunicorn(env: dict[str, str]) -> dict[str, object]:
    saved = dict(os.environ)
    try:
        for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_BIND"):
            os.environ.pop(name, None)
        os.environ.update(env)
        return runpy.run_path(str(CONFIG / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_gunicorn_defaults_to_sync_workers_from_the_cores() -> None:
    settings = _gunicorn({})
    cores = len(os.sched_getaffinity(0))
    assert settings["workers"] == 2 * cores + 1
    assert settings["threads"] == 1
    assert settings["worker_class"] == "sync"
    assert settings["bind"] == "127.0.0.1:8000"


def test_gunicorn_settings_come_from_the_environment() -> None:
    settings = _gunicorn(
        {"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "2", "GUNICORN_BIND": "0.0.0.0:9000"}
    )
    assert (settings["workers"], settings["threads"], settings["bind"]) == (3, 2, "0.0.0.0:9000")
    # compose passes an unset variable as an empty one.
    assert _gunicorn({"GUNICORN_WORKERS": ""})["workers"] == 2 * len(os.sched_getaffinity(0)) + 1


def test_environment_template_names_only_real_settings_and_no_secret() -> None:
    template = (CONFIG / "lotsen-lti.env.example").read_text()
    names = dict(re.findall(r"^#?([A-Z][A-Z0-9_]+)=(.*)$", template, re.M))
    readers = (CONFIG / "settings.py").read_text() + (CONFIG / "gunicorn.conf.py").read_text()
    for name in names:
        assert f'"{name}"' in readers, name
    for required in ("LOTSEN_ENV", "SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL"):
        assert re.search(rf"^{required}=", template, re.M), required
    assert names["SECRET_KEY"] == ""
    assert names["LOTSEN_ENV"] == "production"
