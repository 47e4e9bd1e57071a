"""The error boundary around user code: a failing step shows the user's frames, not Runyard's."""

from __future__ import annotations

import os
import traceback
from types import TracebackType

#: With the trailing separator, so a user's ``runyard_examples/`` next to the package is not taken for ours.
_RUNYARD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with Runyard's own frames cut from the top of every chain link."""
    tb = exc.__traceback__
    tb = _skip_runyard_frames(tb)
    lines = traceback.format_exception(type(exc), exc, tb)
    return "".join(lines)


def _skip_runyard_frames(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNYARD_DIR):
        tb = tb.tb_next
    return tb


def short_error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
