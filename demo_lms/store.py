"""The demo LMS's own SQLite database, kept out of the tool's schema and migrations.

SQLAlchemy Core with its own engine per app; the tables are created on first use. The file is
``DEMO_LMS_DATABASE`` or ``instance/demo_lms.sqlite``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)

from lti_tool.models import UTCDateTime, utcnow

from .course import DEFAULT_LINK_ID, DEFAULT_LINK_TITLE
from .keypair import generate_key_pair

metadata = MetaData()

platform_key = Table(
    "platform_key",
    metadata,
    Column("kid", String(100), primary_key=True),
    Column("private_key_pem", Text, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

#: Placements of the tool in the course. The LTI id is ``demo-link-<pk>``.
resource_link = Table(
    "resource_link",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("title", String(255), nullable=False),
    Column("text", Text),
    Column("url", String(1024)),
    Column("custom", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

#: Gradebook columns (AGS line items).
line_item = Table(
    "line_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(255), nullable=False),
    Column("score_maximum", Float, nullable=False),
    Column("resource_link_pk", Integer, ForeignKey("resource_link.pk", ondelete="CASCADE")),
    Column("resource_id", String(255)),
    Column("tag", String(255)),
    Column("start_date_time", String(64)),
    Column("end_date_time", String(64)),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

#: Every accepted score; the newest per (line item, user) is the grade.
score = Table(
    "score",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "line_item_id",
        Integer,
        ForeignKey("line_item.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("user_id", String(255), nullable=False),
    Column("score_given", Float),
    Column("score_maximum", Float),
    Column("activity_progress", String(32), nullable=False),
    Column("grading_progress", String(32), nullable=False),
    Column("comment", Text),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("timestamp_text", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False, default=utcnow),
)

#: Issued access tokens, by SHA-256 so that the database never holds a usable token.
access_token = Table(
    "access_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

#: ``jti`` of accepted client assertions and Deep Linking responses: each is good once.
used_jti = Table(
    "used_jti",
    metadata,
    Column("jti", String(255), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
)

#: Tools registered by LTI Dynamic Registration (registration.py), each with a client id and a
#: deployment of its own. The tool set up by ``demo-lms setup`` is not a row: it is the fixed
#: client ``lotsen-demo`` with deployment ``1`` (course.py).
tool_client = Table(
    "tool_client",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("deployment_id", String(64), nullable=False, unique=True),
    Column("client_name", String(255), nullable=False),
    Column("login_url", String(1024), nullable=False),
    Column("redirect_uris", JSON, nullable=False),
    Column("jwks_url", String(1024), nullable=False),
    Column("target_link_uri", String(1024), nullable=False),
    Column("deep_linking_url", String(1024)),
    Column("scope", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

#: One-time registration tokens the registration page hands out, by SHA-256.
registration_token = Table(
    "registration_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

counter = Table(
    "counter",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False, default=0),
)


@dataclass
class DemoState:
    """Per-app state: the engine (made on first use) and the cached tool key set."""

    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: Engine | None = None
    tool_jwks: dict[str, Any] | None = None
    tool_jwks_fetched_at: float = 0.0


def init_app(app: Flask) -> None:
    """Remember where the demo database lives; nothing is opened yet."""
    configured = app.config["DEMO_LMS_DATABASE"]
    path = Path(configured) if configured else Path(app.instance_path) / "demo_lms.sqlite"
    app.extensions["demo_lms"] = DemoState(path=path)


def state(app: Flask | None = None) -> DemoState:
    """The demo's per-app state."""
    found: DemoState = (app or current_app).extensions["demo_lms"]
    return found


def engine(app: Flask | None = None) -> Engine:
    """The demo database engine; creates file, tables, the platform key and the default course
    content once, under a lock, so that concurrent first requests agree on them."""
    demo = state(app)
    with demo.lock:
        if demo.engine is None:
            demo.path.parent.mkdir(parents=True, exist_ok=True)
            new_engine = create_engine(f"sqlite:///{demo.path}", connect_args={"timeout": 30})
            _serialise_transactions(new_engine)
            metadata.create_all(new_engine)
            with new_engine.begin() as conn:
                _seed(conn)
            demo.engine = new_engine
        return demo.engine


def _serialise_transactions(new_engine: Engine) -> None:
    # pysqlite starts transactions lazily, so a transaction that reads and then writes can fail
    # at once with SQLITE_BUSY when another writer got in between (many tool requests at once).
    # BEGIN IMMEDIATE takes the write lock up front; others wait for it (timeout above).
    @event.listens_for(new_engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(new_engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def dispose(app: Flask) -> None:
    """Close the engine's connections (tests, shutdown)."""
    demo = state(app)
    with demo.lock:
        if demo.engine is not None:
            demo.engine.dispose()
            demo.engine = None


@contextmanager
def transaction(app: Flask | None = None) -> Iterator[Connection]:
    """A connection inside a transaction that commits on success. Transactions run one at a
    time, so keep them short and never wait for HTTP inside one."""
    with engine(app).begin() as conn:
        yield conn


def _seed(conn: Connection) -> None:
    if conn.execute(select(platform_key.c.kid).limit(1)).first() is None:
        key = generate_key_pair()
        conn.execute(
            insert(platform_key).values(
                kid=key.kid, private_key_pem=key.private_key_pem, public_jwk=key.public_jwk
            )
        )
    # The course starts with one placement of the tool that has its own gradebook column, as a
    # Moodle activity with "accept grades" has.
    if conn.execute(select(resource_link.c.pk).limit(1)).first() is not None:
        return
    pk = int(DEFAULT_LINK_ID.rsplit("-", 1)[1])
    conn.execute(insert(resource_link).values(pk=pk, title=DEFAULT_LINK_TITLE, custom={}))
    conn.execute(
        insert(line_item).values(label=DEFAULT_LINK_TITLE, score_maximum=100, resource_link_pk=pk)
    )
