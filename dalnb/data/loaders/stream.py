"""Reading a large JSON object without holding it: the elements of its top-level arrays one at a
time (a DensePose-COCO file of 50,000 people is about a gigabyte as Python objects, a few
megabytes as a stream).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dalnb.data.loaders.common import DataError

__all__ = ["iter_top_level"]

_WS = " \t\n\r"
MAX_VALUE = 1 << 26  # characters one array element may span (64 Mi)


class _Reader:
    """A growing text buffer over a file, with ``json.JSONDecoder.raw_decode`` for values."""

    def __init__(self, f, path: Path, chunk: int):
        self.f, self.path, self.chunk = f, path, chunk
        self.text, self.pos, self.offset, self.eof = "", 0, 0, False
        self.dec = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        more = self.f.read(self.chunk)
        if not more:
            self.eof = True
            return False
        if self.pos > self.chunk:  # drop what was consumed
            self.offset += self.pos
            self.text, self.pos = self.text[self.pos :], 0
        self.text += more
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._fill():
                return ""

    def expect(self, chars: str, what: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            raise self.error(f"expected {what}, got {c!r}" if c else f"expected {what}, got the end of the file")
        self.pos += 1
        return c

    def value(self):
        self.peek()
        while True:
            try:
                v, end = self.dec.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as e:
                # more text only helps a value cut by the buffer's end; a value longer than
                # MAX_VALUE is taken as malformed rather than read into memory whole
                if len(self.text) - self.pos < MAX_VALUE and self._fill():
                    continue
                raise self.error(f"malformed JSON ({e.msg})") from None
            if end == len(self.text) and self._fill():  # a number may go on in the next chunk
                continue
            self.pos = end
            return v

    def error(self, msg: str) -> DataError:
        return DataError(f"{self.path}: {msg} at byte {self.offset + self.pos}")


def iter_top_level(
    path: str | Path, arrays: tuple[str, ...], chunk: int = 1 << 22
) -> Iterator[tuple[str, int, object]]:
    """Stream a JSON object's members: ``(key, i, element)`` for each element of the top-level
    arrays named in ``arrays``, ``(key, -1, value)`` for every other member, in file order.
    Raises ``DataError`` naming the file and byte offset when it is not a JSON object."""
    path = Path(path)
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, expected a JSON file") from None
    with f:
        r = _Reader(f, path, chunk)
        try:
            r.expect("{", "a JSON object '{'")
            if r.peek() == "}":
                return
            while True:
                key = r.value()
                if not isinstance(key, str):
                    raise r.error(f"expected a member name, got {key!r}")
                r.expect(":", "':'")
                if key in arrays and r.peek() == "[":
                    r.pos += 1
                    i = 0
                    if r.peek() != "]":
                        while True:
                            yield key, i, r.value()
                            i += 1
                            if r.expect(",]", f"',' or ']' after {key}[{i - 1}]") == "]":
                                break
                    else:
                        r.pos += 1
                else:
                    yield key, -1, r.value()
                if r.expect(",}", "',' or '}'") == "}":
                    return
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason}): not a JSON file?") from None
