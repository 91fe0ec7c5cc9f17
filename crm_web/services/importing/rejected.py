"""The file of rejected import rows, in the source file's own columns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from flask_babel import gettext as _

from crm_web.services.exporting import write_table


class RejectedRow(Protocol):
    cells: list[Any]
    problems: list[str]


def write_rejected_rows(
    target: Path,
    kind: str,
    headers: Sequence[str],
    rows: Sequence[RejectedRow],
    *,
    sheet_title: str = "Contacts",
) -> Path:
    """Write rows with their original cells plus a reason column; return ``target``.

    The file keeps the source's columns, so the user can fix it and import it
    again.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    columns = [
        (f"c{i}", header or _("Column %(number)s", number=i + 1))
        for i, header in enumerate(headers)
    ]
    columns.append(("reason", _("Reason rejected")))
    records = []
    for row in rows:
        record: dict[str, Any] = {f"c{i}": cell for i, cell in enumerate(row.cells)}
        record["reason"] = " ".join(row.problems)
        records.append(record)
    write_table(target, kind, columns, records, sheet_title=sheet_title)
    return target
