"""The demo gradebook: line items (columns) and scores, as AGS 2.0 reads and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from . import store
from .content import LINK_ID_PREFIX


@dataclass(frozen=True)
class LineItem:
    id: int
    label: str
    score_maximum: float
    resource_link_pk: int | None = None
    resource_id: str | None = None
    tag: str | None = None
    start_date_time: str | None = None
    end_date_time: str | None = None

    @property
    def resource_link_id(self) -> str | None:
        pk = self.resource_link_pk
        return None if pk is None else f"{LINK_ID_PREFIX}{pk}"


@dataclass(frozen=True)
class Score:
    """One accepted score (AGS §3.4); the newest per user is the grade."""

    line_item_id: int
    user_id: str
    activity_progress: str
    grading_progress: str
    timestamp: datetime
    timestamp_text: str
    score_given: float | None = None
    score_maximum: float | None = None
    comment: str | None = None


def column_points(score: Score, item: LineItem) -> float | None:
    """The grade a score makes in its column, on the column's scale: ``scoreGiven`` rescaled from
    the score's ``scoreMaximum`` to the line item's (14 of 25 in a column of 100 is 56). Moodle
    does the same (mod/lti/service/gradebookservices/classes/local/service/gradebookservices.php,
    ``save_grade_item``: "Rescale to match the grade item maximum"); so do AGS results (§3.3.3.3).
    None without points."""
    if score.score_given is None:
        return None
    if not score.score_maximum:
        return score.score_given
    return score.score_given * item.score_maximum / score.score_maximum


def _line_item(row: Any) -> LineItem:
    return LineItem(
        id=row.id,
        label=row.label,
        score_maximum=row.score_maximum,
        resource_link_pk=row.resource_link_pk,
        resource_id=row.resource_id,
        tag=row.tag,
        start_date_time=row.start_date_time,
        end_date_time=row.end_date_time,
    )


def _score(row: Any) -> Score:
    return Score(
        line_item_id=row.line_item_id,
        user_id=row.user_id,
        activity_progress=row.activity_progress,
        grading_progress=row.grading_progress,
        timestamp=row.timestamp,
        timestamp_text=row.timestamp_text,
        score_given=row.score_given,
        score_maximum=row.score_maximum,
        comment=row.comment,
    )


def list_line_items(
    conn: Connection,
    *,
    resource_link_pk: int | None = None,
    resource_id: str | None = None,
    tag: str | None = None,
) -> list[LineItem]:
    """Line items, oldest first, filtered as the AGS container's query parameters ask."""
    table = store.line_item
    query = select(table).order_by(table.c.id)
    if resource_link_pk is not None:
        query = query.where(table.c.resource_link_pk == resource_link_pk)
    if resource_id is not None:
        query = query.where(table.c.resource_id == resource_id)
    if tag is not None:
        query = query.where(table.c.tag == tag)
    return [_line_item(row) for row in conn.execute(query)]


def get_line_item(conn: Connection, line_item_id: int) -> LineItem | None:
    row = conn.execute(select(store.line_item).where(store.line_item.c.id == line_item_id)).first()
    return _line_item(row) if row else None


def own_line_item(conn: Connection, resource_link_pk: int) -> LineItem | None:
    """The link's own column (claim ``endpoint.lineitem``): the first one bound to it."""
    items = list_line_items(conn, resource_link_pk=resource_link_pk)
    return items[0] if items else None


def create_line_item(conn: Connection, values: dict[str, Any]) -> LineItem:
    """Add a column; ``values`` uses the table's column names."""
    result = conn.execute(insert(store.line_item).values(**values))
    assert result.inserted_primary_key is not None
    created = get_line_item(conn, int(result.inserted_primary_key[0]))
    assert created is not None
    return created


def update_line_item(conn: Connection, line_item_id: int, values: dict[str, Any]) -> LineItem:
    conn.execute(
        update(store.line_item).where(store.line_item.c.id == line_item_id).values(**values)
    )
    updated = get_line_item(conn, line_item_id)
    assert updated is not None
    return updated


def delete_line_item(conn: Connection, line_item_id: int) -> None:
    """Remove a column with its scores."""
    conn.execute(delete(store.score).where(store.score.c.line_item_id == line_item_id))
    conn.execute(delete(store.line_item).where(store.line_item.c.id == line_item_id))


def latest_score(conn: Connection, line_item_id: int, user_id: str) -> Score | None:
    row = conn.execute(
        select(store.score)
        .where(store.score.c.line_item_id == line_item_id, store.score.c.user_id == user_id)
        .order_by(store.score.c.id.desc())
        .limit(1)
    ).first()
    return _score(row) if row else None


def add_score(conn: Connection, score: Score) -> None:
    conn.execute(
        insert(store.score).values(
            line_item_id=score.line_item_id,
            user_id=score.user_id,
            score_given=score.score_given,
            score_maximum=score.score_maximum,
            activity_progress=score.activity_progress,
            grading_progress=score.grading_progress,
            comment=score.comment,
            timestamp=score.timestamp,
            timestamp_text=score.timestamp_text,
        )
    )


def latest_scores(conn: Connection) -> dict[tuple[int, str], Score]:
    """The grade of every (line item, user) that has one."""
    grades: dict[tuple[int, str], Score] = {}
    for row in conn.execute(select(store.score).order_by(store.score.c.id)):
        grades[(row.line_item_id, row.user_id)] = _score(row)
    return grades


def count_scores(conn: Connection) -> int:
    """How many scores were accepted in all."""
    return int(conn.execute(select(func.count()).select_from(store.score)).scalar_one())
