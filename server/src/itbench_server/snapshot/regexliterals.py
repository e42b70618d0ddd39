"""The literal text a regular expression needs: what a line must contain for RE2 to match it.

``search_logs`` narrows the log lines with it before RE2 reads them (:mod:`itbench_server.snapshot.logbodies`):
``error|timed? ?out`` can only match a line that holds ``error``, ``timeout``, ``time out``,
``timedout`` or ``timed out``. The requirement is a formula of literals (:class:`Literal`,
:class:`AllOf`, :class:`AnyOf`), or None when none can be derived (``.*``, ``\\d+``, a literal
shorter than :data:`MIN_LITERAL_BYTES`); RE2 still decides every match, so the formula only has to
hold for every line RE2 would match.

The parser reads RE2's syntax conservatively: any construct it does not know for certain gives
no requirement (the plain scan), never a wrong one. Under case-insensitive matching only ASCII
literals are kept, compared without ASCII case; RE2 also folds a few non-ASCII characters onto
ASCII letters (the Kelvin sign onto ``k``), so the caller keeps every line holding a non-ASCII
character as a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from itbench_server.errors import ItbenchError

__all__ = ["MIN_LITERAL_BYTES", "AllOf", "AnyOf", "Literal", "Requirement", "required_literals"]

MIN_LITERAL_BYTES: Final = 3
"""Shorter literals are not required: nearly every line holds one, and finding them costs more
than it saves."""

_MAX_EXACT: Final = 16
"""Most alternative strings kept for one part of the expression before they become a formula."""

_MAX_LITERALS: Final = 64
"""Most literals in one requirement."""

_META: Final = frozenset("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class Literal:
    """The line holds ``text`` (UTF-8), compared without ASCII case when ``caseless``."""

    text: bytes
    caseless: bool


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Requirement, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Requirement, ...]


Requirement = Literal | AllOf | AnyOf


class _Unsupported(ItbenchError):
    """A construct the parser does not know for certain: no requirement (caught in this module)."""


@dataclass(frozen=True)
class _Info:
    """What one part of the expression matches.

    ``exact``: the part matches exactly one of these strings (None: not known); ``caseless`` says
    how its letters compare (None: it has no ASCII letters). ``need``: a requirement of any text
    the part matches (None: nothing is required).
    """

    exact: frozenset[str] | None
    caseless: bool | None
    need: Requirement | None


_ANY: Final = _Info(None, None, None)
_EMPTY: Final = _Info(frozenset({""}), None, None)


def required_literals(pattern: str, *, ignore_case: bool) -> Requirement | None:
    """What a text must hold for RE2 to find ``pattern`` in it (search semantics), or None."""
    try:
        parser = _Parser(pattern, ignore_case)
        info = parser.parse()
        need = _need(info)
    except (_Unsupported, RecursionError):
        return None
    if need is None or _count_literals(need) > _MAX_LITERALS:
        return None
    return need


def _count_literals(need: Requirement) -> int:
    if isinstance(need, Literal):
        return 1
    return sum(_count_literals(part) for part in need.parts)


def _all_of(parts: list[Requirement | None]) -> Requirement | None:
    kept: list[Requirement] = []
    for part in parts:
        if part is None:
            continue
        for item in part.parts if isinstance(part, AllOf) else (part,):
            if item not in kept:
                kept.append(item)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AllOf(tuple(kept))


def _any_of(parts: list[Requirement | None]) -> Requirement | None:
    kept: list[Requirement] = []
    for part in parts:
        if part is None:  # one alternative needs nothing: the whole needs nothing
            return None
        for item in part.parts if isinstance(part, AnyOf) else (part,):
            if item not in kept:
                kept.append(item)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


def _exact_need(strings: frozenset[str], caseless: bool | None) -> Requirement | None:
    literals: list[Requirement | None] = []
    for text in sorted(strings):
        encoded = text.encode()
        literals.append(Literal(encoded, bool(caseless)) if len(encoded) >= MIN_LITERAL_BYTES else None)
    return _any_of(literals)


def _need(info: _Info) -> Requirement | None:
    if info.exact is not None:
        return _exact_need(info.exact, info.caseless)
    return info.need


def _has_letters(text: str) -> bool:
    return any("a" <= char <= "z" or "A" <= char <= "Z" for char in text)


def _char(char: str, caseless: bool) -> _Info:
    """One literal character under the current case flag."""
    if char == "\0":
        return _ANY  # Hyperscan's Python binding cuts a literal at a NUL byte
    if caseless:
        if not char.isascii():
            return _ANY  # RE2 folds some non-ASCII letters onto ASCII ones and back
        folded = char.lower()
        return _Info(frozenset({folded}), True if _has_letters(folded) else None, None)
    return _Info(frozenset({char}), False if _has_letters(char) else None, None)


def _concatenate(items: list[_Info]) -> _Info:
    needs: list[Requirement | None] = []
    run: frozenset[str] = frozenset({""})
    run_caseless: bool | None = None
    for item in items:
        if item.exact is not None:
            compatible = run_caseless is None or item.caseless is None or run_caseless == item.caseless
            if compatible and len(run) * len(item.exact) <= _MAX_EXACT:
                run = frozenset(left + right for left in run for right in item.exact)
                run_caseless = run_caseless if run_caseless is not None else item.caseless
                continue
            needs.append(_exact_need(run, run_caseless))
            run, run_caseless = item.exact, item.caseless
            continue
        needs.append(_exact_need(run, run_caseless))
        needs.append(item.need)
        run, run_caseless = frozenset({""}), None
    if not needs:
        return _Info(run, run_caseless, None)
    needs.append(_exact_need(run, run_caseless))
    return _Info(None, None, _all_of(needs))


def _alternate(branches: list[_Info]) -> _Info:
    if all(branch.exact is not None for branch in branches):
        flags = {branch.caseless for branch in branches} - {None}
        union = frozenset().union(*(branch.exact for branch in branches if branch.exact is not None))
        if len(flags) <= 1 and len(union) <= _MAX_EXACT:
            return _Info(union, next(iter(flags)) if flags else None, None)
    return _Info(None, None, _any_of([_need(branch) for branch in branches]))


class _Parser:
    """A recursive-descent reader of RE2 syntax that raises :class:`_Unsupported` when unsure."""

    def __init__(self, pattern: str, ignore_case: bool) -> None:
        self.text = pattern
        self.at = 0
        self.caseless = ignore_case

    def parse(self) -> _Info:
        info = self._alternation()
        if self.at != len(self.text):
            raise _Unsupported  # an unbalanced ')'
        return info

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def _alternation(self) -> _Info:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.at += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else _alternate(branches)

    def _sequence(self) -> _Info:
        items: list[_Info] = []
        while self.at < len(self.text) and self._peek() not in "|)":
            if self.text.startswith("(?", self.at) and self._flag_group():
                continue  # (?i) and the like change how the rest of the group reads
            atom = self._atom()
            items.append(self._repeat(atom))
        return _concatenate(items)

    def _flag_group(self) -> bool:
        """Read ``(?flags)``; False (nothing read) for any other group: ``(?i:...)``, ``(?P<name>...)``."""
        end = self.text.find(")", self.at)
        flags = self.text[self.at + 2 : end]
        if end < 0 or not flags or any(flag not in "imsU-" for flag in flags):
            return False
        self.caseless = self._flags(flags)
        self.at = end + 1
        return True

    def _flags(self, flags: str) -> bool:
        caseless, negated = self.caseless, False
        if not flags:
            raise _Unsupported
        for flag in flags:
            if flag == "-" and not negated:
                negated = True
            elif flag == "i":
                caseless = not negated
            elif flag not in "msU":
                raise _Unsupported
        return caseless

    def _repeat(self, atom: _Info) -> _Info:
        repeated = False
        while True:
            char = self._peek()
            if char in ("*", "+", "?"):
                self.at += 1
                low = 1 if char == "+" else 0
                optional_only = char == "?"
            elif char == "{" and (bounds := self._bounds()) is not None:
                low, high = bounds
                optional_only = high == 1 and low == 0
                if low == 1 and high == 1:
                    low = -1  # exactly once: the atom itself
            else:
                return atom
            if repeated:
                raise _Unsupported  # RE2 refuses a** ; a lazy ? is read below
            repeated = True
            if self._peek() == "?":
                self.at += 1  # lazy: matches the same texts
            if low == -1:
                continue
            if optional_only and atom.exact is not None and len(atom.exact) < _MAX_EXACT:
                atom = _Info(atom.exact | {""}, atom.caseless, None)
            elif low == 0:
                atom = _ANY
            else:
                atom = _Info(None, None, _need(atom))

    def _bounds(self) -> tuple[int, int | None] | None:
        """``{n}``, ``{n,}``, ``{n,m}`` at the cursor (read), else None (RE2 reads ``{`` as itself)."""
        end = self.text.find("}", self.at)
        if end < 0:
            return None
        inside = self.text[self.at + 1 : end]
        low_text, comma, high_text = inside.partition(",")
        if not low_text.isdigit() or not (high_text.isdigit() or high_text == "") or not low_text.isascii():
            return None
        if high_text and not high_text.isascii():
            return None
        self.at = end + 1
        low = int(low_text)
        if not comma:
            return low, low
        return low, int(high_text) if high_text else None

    def _atom(self) -> _Info:
        char = self._peek()
        if char == "(":
            return self._group()
        if char == "[":
            return self._class()
        if char == "\\":
            return self._escape()
        if char in ("^", "$"):
            self.at += 1
            return _EMPTY
        if char == ".":
            self.at += 1
            return _ANY
        if char in ("*", "+", "?", "{"):
            raise _Unsupported  # a repetition of nothing, or a { RE2 reads as itself
        self.at += 1
        return _char(char, self.caseless)

    def _group(self) -> _Info:
        self.at += 1
        saved = self.caseless
        if self.text.startswith("?", self.at):
            if self.text.startswith("?:", self.at):
                self.at += 2
            elif self.text.startswith("?P<", self.at) or self.text.startswith("?<", self.at):
                end = self.text.find(">", self.at)
                if end < 0:
                    raise _Unsupported
                self.at = end + 1
            else:
                colon = self.text.find(":", self.at)
                if colon < 0:
                    raise _Unsupported
                self.caseless = self._flags(self.text[self.at + 1 : colon])
                self.at = colon + 1
        info = self._alternation()
        if self._peek() != ")":
            raise _Unsupported
        self.at += 1
        self.caseless = saved
        return info

    def _class(self) -> _Info:
        """A bracketed class: a few plain characters give their alternatives, anything else any character."""
        self.at += 1
        negated = self._peek() == "^"
        if negated:
            self.at += 1
        members: set[str] = set()
        plain = not negated
        first = True
        while True:
            if self.at >= len(self.text):
                raise _Unsupported
            char = self.text[self.at]
            if char == "]" and not first:
                self.at += 1
                break
            first = False
            if char == "[" and self.text.startswith("[:", self.at):
                end = self.text.find(":]", self.at + 2)
                if end < 0:
                    raise _Unsupported
                self.at = end + 2
                plain = False
                continue
            if char == "\\":
                member = self._class_escape()
                if member is None:
                    plain = False
                else:
                    members.add(member)
            else:
                self.at += 1
                members.add(char)
            if self._peek() == "-" and self.text[self.at + 1 : self.at + 2] not in ("]", ""):
                plain = False  # a range
                self.at += 1
        if not plain or not members or len(members) > 4:
            return _ANY
        return _alternate([_char(member, self.caseless) for member in sorted(members)])

    def _class_escape(self) -> str | None:
        """The character of an escape inside a class (read), None when it stands for several."""
        following = self.text[self.at + 1 : self.at + 2]
        if _escapes_itself(following):
            self.at += 2
            return following
        if following in _CONTROL_ESCAPES:
            self.at += 2
            return _CONTROL_ESCAPES[following]
        if following in ("d", "D", "s", "S", "w", "W"):
            self.at += 2
            return None
        if following in ("p", "P"):
            self._skip_property()
            return None
        if following == "x":
            return self._hex_escape()
        raise _Unsupported

    def _escape(self) -> _Info:
        following = self.text[self.at + 1 : self.at + 2]
        if not following:
            raise _Unsupported
        if following == "Q":
            return self._quoted()
        if following in ("b", "B", "A", "z"):
            self.at += 2
            return _EMPTY
        if following in ("d", "D", "s", "S", "w", "W", "C"):
            self.at += 2
            return _ANY
        if following in ("p", "P"):
            self._skip_property()
            return _ANY
        if following == "x":
            return _char(self._hex_escape(), self.caseless)
        if following in _CONTROL_ESCAPES:
            self.at += 2
            return _char(_CONTROL_ESCAPES[following], self.caseless)
        if _escapes_itself(following):
            self.at += 2
            return _char(following, self.caseless)
        raise _Unsupported  # octal, backreferences, anything else

    def _skip_property(self) -> None:
        """Read ``\\pL``, ``\\p{Greek}``, ``\\P{^Greek}``."""
        if self.text.startswith("{", self.at + 2):
            end = self.text.find("}", self.at)
            if end < 0:
                raise _Unsupported
            self.at = end + 1
        elif self.at + 2 < len(self.text):
            self.at += 3
        else:
            raise _Unsupported

    def _hex_escape(self) -> str:
        """Read ``\\x41`` or ``\\x{1F600}``: its character."""
        if self.text.startswith("{", self.at + 2):
            end = self.text.find("}", self.at)
            digits = self.text[self.at + 3 : end] if end >= 0 else ""
            self.at = end + 1
        else:
            digits = self.text[self.at + 2 : self.at + 4]
            self.at += 4
        if not digits or len(digits) > 8 or any(digit not in "0123456789abcdefABCDEF" for digit in digits):
            raise _Unsupported
        code = int(digits, 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise _Unsupported
        return chr(code)

    def _quoted(self) -> _Info:
        """``\\Q...\\E``: every character up to ``\\E`` (or the end) as itself."""
        start = self.at + 2
        end = self.text.find("\\E", start)
        stop = len(self.text) if end < 0 else end
        self.at = stop if end < 0 else end + 2
        return _concatenate([_char(char, self.caseless) for char in self.text[start:stop]])


def _escapes_itself(char: str) -> bool:
    """RE2 reads a backslash before ASCII punctuation as that character."""
    return (
        len(char) == 1 and char.isascii() and char.isprintable() and not char.isalnum() and char not in "_ "
    )


_CONTROL_ESCAPES: Final = {"a": "\a", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
