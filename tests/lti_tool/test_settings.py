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
