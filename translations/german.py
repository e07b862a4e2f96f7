"""German is the source language: every text in the code is the German one. This fills each
entry of the German catalogue that ``pybabel update`` left empty with the text itself, so the
catalogue is complete and a German wording can still be changed there without touching code.

Usage (``make translations`` runs it): ``python translations/german.py PO_FILE``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def fill(path: Path) -> int:
    """Copy each msgid into its empty msgstr; return how many entries were filled."""
    with path.open("rb") as source:
        catalog = read_po(source, locale="de")
    filled = 0
    for message in catalog:
        translated = message.string and all(message.string)  # plural: every form
        if not message.id or translated:
            continue
        message.string = message.id
        filled += 1
    with path.open("wb") as target:
        write_po(target, catalog, width=100, ignore_obsolete=True)
    return filled


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {fill(Path(name))} Einträge aus dem Quelltext übernommen")
