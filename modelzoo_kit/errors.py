"""The kit's error types.

Every mistake a user can make (a bad deliverable.yaml, a missing folder, a bad command line)
raises a subclass of :class:`ModelzooError`. The CLI catches that root type and prints the
message, so a user's mistake never shows a traceback; anything else is a bug in the kit.
Subclasses also derive from the built-in they resemble, so library callers can catch either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelzoo_kit.display import shown


class ModelzooError(Exception):
    """Root of every error the kit raises for a user's mistake.

    Its text is safe to print, whichever message a subclass builds from data: a url's
    credentials are masked (``https://***@host``) and control characters are escaped
    (:func:`modelzoo_kit.display.shown`; newlines between problems stay)."""

    def __str__(self) -> str:
        return shown(super().__str__())


class UsageError(ModelzooError, ValueError):
    """The command line or an argument to a library call is wrong (exit code 2)."""


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with an input file: where it is and which field it concerns."""

    path: Path | None
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = str(self.path) if self.path is not None else "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {field}{self.message}"


class InputFileError(ModelzooError, ValueError):
    """An input file is unreadable or invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[InputProblem]):
        if not problems:
            raise ValueError("InputFileError needs at least one problem")
        self.problems = list(problems)
        super().__init__(self._summary())

    def _summary(self) -> str:
        head = self.problems[0].path
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        title = f"{head}: {count} {noun}" if head is not None else f"{count} {noun}"
        return title + "\n" + "\n".join(f"  {p}" for p in self.problems)


class DeliverableNotFoundError(ModelzooError, FileNotFoundError):
    """A path that should hold a deliverable (or one of its files) does not."""


class OutputFileError(ModelzooError, OSError):
    """A file the kit writes could not be written (read-only folder, full disk); the file that
    was there before is left as it was."""


#: The longest piece of a user's file an error message quotes.
EXCERPT_CHARS = 60


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, quoted, escaped piece of ``value`` for an error message: never more than
    ``limit`` characters of it, never a raw newline or control character, so a message cannot
    reprint a whole file (a deliverable.yaml that is really ``/etc/shadow``) or forge lines."""
    if isinstance(value, str):
        if len(value) > limit:
            return repr(value[:limit]) + f"… ({len(value)} characters)"
        return repr(value)
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
