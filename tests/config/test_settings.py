import pytest

from config.settings import ConfigurationError, load_settings


def test_production_refuses_to_start_without_secret_database_and_url(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL", "DEMO_LMS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError) as error:
        load_settings("production")
    assert "SECRET_KEY" in str(error.value)
    assert "DATABASE_URL" in str(error.value)
    assert "PUBLIC_BASE_URL" in str(error.value)


def test_production_can_never_serve_the_demo_lms(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://lotsen.example")
    assert load_settings("production")["DEMO_LMS"] is False
    monkeypatch.setenv("DEMO_LMS", "1")
    with pytest.raises(ConfigurationError, match="DEMO_LMS"):
        load_settings("production")


def test_postgres_urls_use_psycopg3(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1/db")
    assert (
        load_settings("testing")["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/db"
    )


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigurationError, match="LOTSEN_ENV"):
        load_settings("staging")


def test_database_errors_never_carry_the_statements_values(sqlite_app):
    import sqlalchemy as sa

    from lti_tool.extensions import db

    with pytest.raises(sa.exc.DBAPIError) as error:
        db.session.execute(
            sa.text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "Erika Muster"}
        )
    db.session.rollback()
    assert "Erika Muster" not in str(error.value)


def test_programmes_come_from_json_and_bad_json_is_refused(monkeypatch):
    monkeypatch.delenv("PROGRAMMES", raising=False)
    assert load_settings("testing")["PROGRAMMES"] == {}
    monkeypatch.setenv("PROGRAMMES", '{"Sachsen": ["https://moodle.sachsen.example"]}')
    assert load_settings("testing")["PROGRAMMES"] == {"Sachsen": ["https://moodle.sachsen.example"]}
    for bad in ('{"Sachsen": "https://nur-ein-text.example"}', "Sachsen=https://x"):
        monkeypatch.setenv("PROGRAMMES", bad)
        with pytest.raises(ConfigurationError, match="PROGRAMMES"):
            load_settings("testing")
