"""Git wildmatch patterns (``*``, ``?``, ``[...]``, ``**``) matched in time linear in the path.

A regex translation (``**a**a**a…**b`` -> ``.*a.*a.*a….*b``) backtracks without end on a long
path that nearly matches; here a pattern becomes a small automaton whose set of live states is
advanced one character at a time, so a match costs at most ``len(path) x len(pattern)`` steps,
whatever the pattern. ``*`` and ``?`` never match ``/``, nor does a ``[...]`` class; ``**``
does. A pattern is at most :data:`MAX_GLOB_CHARS` long; :func:`glob_problem` says what is wrong
with one a user wrote (too long, a reversed range like ``[z-a]``), for the error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: Longest pattern accepted; real ones are a few characters (``*.pth``, ``logs/``).
MAX_GLOB_CHARS = 256

# Transition kinds: one literal character, any character but "/", any character, a class.
_CHAR, _NOT_SLASH, _ANY, _CLASS = range(4)


@dataclass(frozen=True)
class _Class:
    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def matches(self, ch: str) -> bool:
        if ch == "/":
            return False
        inside = any(lo <= ch <= hi for lo, hi in self.ranges)
        return inside != self.negated


def glob_problem(pattern: str) -> str | None:
    """Why a pattern a user wrote cannot be used, or None."""
    if len(pattern) > MAX_GLOB_CHARS:
        return f"the pattern is {len(pattern)} characters long; at most {MAX_GLOB_CHARS}"
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            end = pattern.find("]", i + 2)
            if end != -1:
                for lo, hi in _parse_class(pattern[i + 1 : end]).ranges:
                    if lo > hi:
                        return f"[{pattern[i + 1 : end]}]: the range {lo}-{hi} is reversed"
                i = end + 1
                continue
        i += 1
    return None


def _parse_class(inner: str) -> _Class:
    negated = inner.startswith(("!", "^"))
    if negated:
        inner = inner[1:]
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and i + 1 < len(inner):
            i += 1
            ch = inner[i]
        if i + 2 < len(inner) and inner[i + 1] == "-":
            ranges.append((ch, inner[i + 2]))
            i += 3
        else:
            ranges.append((ch, ch))
            i += 1
    return _Class(tuple(ranges), negated)


@dataclass(frozen=True)
class Glob:
    """A compiled pattern: ``moves[state]`` is its ``(kind, argument, next state)`` list and
    ``skips[state]`` the states reached without consuming a character."""

    moves: tuple[tuple[tuple[int, object, int], ...], ...]
    skips: tuple[tuple[int, ...], ...]
    accept: int

    def _closure(self, states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            for target in self.skips[todo.pop()]:
                if target not in states:
                    states.add(target)
                    todo.append(target)
        return states

    def match(self, text: str) -> bool:
        """Whether the whole of ``text`` matches."""
        live = self._closure({0})
        for ch in text:
            following: set[int] = set()
            for state in live:
                for kind, argument, target in self.moves[state]:
                    if (
                        (kind == _CHAR and ch == argument)
                        or (kind == _NOT_SLASH and ch != "/")
                        or kind == _ANY
                        or (kind == _CLASS and argument.matches(ch))  # type: ignore[attr-defined]
                    ):
                        following.add(target)
            if not following:
                return False
            live = self._closure(following)
        return self.accept in live


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    """The automaton of a pattern. Never fails: a reversed range matches nothing (as in git),
    and a pattern over :data:`MAX_GLOB_CHARS` matches nothing; :func:`glob_problem` reports
    both to the user."""
    moves: list[list[tuple[int, object, int]]] = []
    skips: list[list[int]] = []

    def state() -> int:
        moves.append([])
        skips.append([])
        return len(moves) - 1

    current = state()
    if len(pattern) > MAX_GLOB_CHARS:
        return Glob(((),), ((),), accept=-1)
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):  # (?:.*/)? : nothing, or anything ending in "/"
            inside, after = state(), state()
            skips[current].append(after)
            moves[current] += [(_ANY, None, inside), (_CHAR, "/", after)]
            moves[inside] += [(_ANY, None, inside), (_CHAR, "/", after)]
            current = after
            i += 3
            continue
        if pattern.startswith("**", i):
            after = state()
            moves[current].append((_ANY, None, current))
            skips[current].append(after)
            current = after
            i += 2
            continue
        ch = pattern[i]
        if ch == "*":
            after = state()
            moves[current].append((_NOT_SLASH, None, current))
            skips[current].append(after)
            current = after
            i += 1
            continue
        after = state()
        if ch == "?":
            moves[current].append((_NOT_SLASH, None, after))
            i += 1
        elif ch == "[" and pattern.find("]", i + 2) != -1:
            end = pattern.find("]", i + 2)
            moves[current].append((_CLASS, _parse_class(pattern[i + 1 : end]), after))
            i = end + 1
        elif ch == "\\" and i + 1 < len(pattern):
            moves[current].append((_CHAR, pattern[i + 1], after))
            i += 2
        else:
            moves[current].append((_CHAR, ch, after))
            i += 1
        current = after
    return Glob(tuple(map(tuple, moves)), tuple(map(tuple, skips)), accept=current)
