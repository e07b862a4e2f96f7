"""The Notenbuch speaks German: each state sent to the LMS reads as the module status of the
overview ("abgeschlossen – 7 von 10 Punkten"), never as the raw AGS terms."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from lti_tool.extensions import db
from lti_tool.vocab import ActivityProgress, GradingProgress
from tests import factories as f

AGS_TERMS = [*ActivityProgress, *GradingProgress]

CASES = [
    (ScoreState("Initialized", "NotReady"), "nicht begonnen"),
    (ScoreState("Started", "NotReady"), "in Bearbeitung"),
    (ScoreState("InProgress", "Pending"), "zur Überarbeitung zurückgegeben"),
    (ScoreState("Submitted", "PendingManual"), "eingereicht – Bewertung ausstehend"),
    (ScoreState("Completed", "FullyGraded", 7.5, 10), "abgeschlossen – 7,5 von 10 Punkten"),
    # Not a pair this tool sends (an older version's row, say): the AGS values in German.
    (ScoreState("Completed", "Failed"), "abgeschlossen · Bewertung fehlgeschlagen"),
]


def test_every_sent_state_reads_in_german(app: Flask, client: FlaskClient) -> None:
    modules = [
        f.make_module(f"n{index}-test", title=f"Modul N{index}", position=index)
        for index in range(len(CASES))
    ]
    navigator = f.http_launch(client)
    lotse = f.http_launch(client, sub="lotsin", lotse=True)
    for catalog_module, (state, _label) in zip(modules, CASES, strict=True):
        placed = f.place(lotse.context, catalog_module)
        enqueue_score(navigator.user.id, placed.id, state)
    db.session.commit()

    page = client.get("/lotse/notenbuch", query_string={"lt": lotse.token})
    assert page.status_code == 200
    text = f.text_of(page.data)
    for index, (_state, label) in enumerate(CASES):
        assert f"Modul N{index} {label} " in text, label
    for term in AGS_TERMS:
        assert not re.search(rf"\b{term}\b", text), term
