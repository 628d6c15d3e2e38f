"""Progress bars that suit where they are written: redrawn in place on a terminal, plain lines
in a log.

``progress_bar(...)`` takes tqdm's arguments. On a terminal it is tqdm as is. When its file
(stderr by default) is not a terminal (a log file, a pipe, CI), tqdm would still write a ``\\r``
redraw several times a second, thousands of "lines" in a log; ``LogBar`` writes one plain line
instead when ``LOG_EVERY_S`` seconds have passed since the last one, or (with a total) at each
tenth of it, and a final line when the bar closes. The doctest looks at every update
(``mininterval=0``): a line per tenth.

    >>> import io
    >>> log = io.StringIO()
    >>> b = progress_bar(total=1000, desc="sim", unit="min", file=log, mininterval=0)
    >>> for _ in range(1000):
    ...     _ = b.update(1)
    >>> b.close()
    >>> lines = log.getvalue().splitlines()
    >>> "\\r" in log.getvalue(), len(lines), lines[0].startswith("sim:   0% 0/1000")
    (False, 11, True)
    >>> [line[:9] for line in lines[1:3]], lines[-1].startswith("sim: 100% 1000/1000")
    (['sim:  10%', 'sim:  20%'], True)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

LOG_EVERY_S = 10.0  # a log line at least this often while a bar moves
_RIGHT = "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def is_terminal(file: IO[str] | None) -> bool:
    f = sys.stderr if file is None else file
    try:
        return bool(f.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm[Any]:
    """A tqdm bar on a terminal, a ``LogBar`` elsewhere (same arguments as tqdm)."""
    if is_terminal(kwargs.get("file")):
        return tqdm(iterable, **kwargs)
    return LogBar(iterable, **kwargs)


class LogBar(tqdm):  # type: ignore[misc]  # tqdm has no type stubs here
    """tqdm for logs: plain lines (no ``\\r``, no cursor moves), one every ``every_s`` seconds
    or at each tenth of the total, whichever comes first, and a final one on ``close``."""

    disable: bool

    def __init__(
        self, iterable: Iterable[Any] | None = None, every_s: float = LOG_EVERY_S, **kwargs: Any
    ) -> None:
        self._every_s = every_s
        self._line_at: float | None = None  # when the last line was written
        self._line_tenth = -1  # tenths of the total at that line
        self._line_n: float | None = None
        kwargs.setdefault("mininterval", min(1.0, every_s))  # how often tqdm asks display()
        kwargs.update(ascii=True, dynamic_ncols=False, ncols=None)
        super().__init__(iterable, **kwargs)

    def _tenth(self) -> int:
        return int(10 * self.n / self.total) if self.total else -1

    def _text(self) -> str:
        d = dict(self.format_dict)
        if d.get("total"):  # tqdm's meter minus the bar itself
            head = "{desc}: " if d.get("prefix") else ""
            d["bar_format"] = head + "{percentage:3.0f}% {n_fmt}/{total_fmt} " + _RIGHT
        return str(self.format_meter(**d))

    def _line(self) -> None:
        self.fp.write(self._text() + "\n")
        self.fp.flush()
        self._line_at, self._line_tenth, self._line_n = self._time(), self._tenth(), self.n

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg is not None:  # tqdm clearing the line: nothing to erase in a log
            return True
        due = self._line_at is None or self._time() - self._line_at >= self._every_s
        if due or self._tenth() > self._line_tenth:
            self._line()
        return True

    def clear(self, nolock: bool = False) -> None:
        pass  # tqdm.write() clears bars before printing: a log has nothing to clear

    def moveto(self, n: int) -> None:
        pass  # nested bars: no cursor moves in a log

    def close(self) -> None:
        if self.disable:
            return
        with self._lock:
            if self._line_n != self.n:
                self._ema_dt = lambda: None  # the overall rate, as tqdm's own last redraw
                self._line()
        self.disable = True
        self._decr_instances(self)
