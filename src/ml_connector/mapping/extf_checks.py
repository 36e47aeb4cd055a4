"""The EXTF line checks the mapper applies to every line it produces.

This is the EXTF validator's :func:`~ml_connector.formats.extf.validate.validate_line` (every
column rule plus the cross-field rules, and the header's period and Sachkontenlänge when
a header is given), so a line the mapper returns is a line the writer accepts. A
line is first put through the validating writer's compiled checks (the validator's
rules compiled into the renderer, as the writer uses them); only a line they refuse
goes through :func:`validate_line`, which names every problem. :func:`checked_text`
keeps the text those checks rendered, so the writer need not render the line again.
"""

from __future__ import annotations

from ml_connector.formats.extf.models import BatchHeader, BookingLine
from ml_connector.formats.extf.render import checked_line_renderer
from ml_connector.formats.extf.validate import validate_line

__all__ = ["checked_text", "line_problems"]


def line_problems(line: BookingLine, header: BatchHeader | None, account_length: int) -> list[str]:
    """Problems of ``line`` (empty when it is valid), each naming the column and the fix."""
    if header is not None and _passes(line, header):
        return []
    problems = [f"{p.heading or p.location}: {p.message}" for p in validate_line(line, header)]
    for attr in ("konto", "gegenkonto"):
        digits = len(str(getattr(line, attr)))
        if header is None and digits > account_length + 1:
            problems.append(f"{attr}: {digits} digits, Sachkontenlänge is {account_length}")
    return problems


def checked_text(line: BookingLine, header: BatchHeader) -> str | None:
    """The EXTF text of ``line`` when the validating writer's compiled checks accept it
    for ``header`` (Sachkontenlänge and period; no automatic accounts), else ``None``
    (:func:`line_problems` then names why)."""
    check = checked_line_renderer()
    try:
        return check(line, header.sachkontenlaenge + 1, header.datum_vom, header.datum_bis, None)
    except Exception:  # a value of the wrong type: the validator names it
        return None


def _passes(line: BookingLine, header: BatchHeader) -> bool:
    """Whether the validating writer's compiled checks accept ``line`` (the same rules as
    :func:`validate_line`, one formatting pass); on ``False`` the validator names why."""
    return checked_text(line, header) is not None
