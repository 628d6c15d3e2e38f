"""Worker log lines as JSON (``CRISIS_RADAR_LOG_FORMAT=json``): one object a line, for log
shippers, with ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``pid``, the
``stage`` and ``partition`` where known, any other ``extra=`` fields, and ``exc`` (the
traceback) when there is one.

Stage and partition come from the record (``extra={"partition": p}``) or else from the context
(``STAGE``/``PARTITION``): each Faust agent runs in its own asyncio task, so a stage sets
``STAGE`` once and every line logged from that task (Faust's own included) carries it.

Faust (mode) configures logging itself when its worker starts: ``logging_config`` is handed to
``faust.Worker`` so that its lines, aiokafka's and ours go through the same JSON handler. Plain
``print``s to stdout/stderr (start-up banner, error messages) become records too (``LinesToLog``,
as Faust's own redirect does once it runs), so every line a JSON worker writes is JSON.

    >>> import logging
    >>> rec = logging.makeLogRecord({"name": "crisis_radar.worker", "levelname": "INFO",
    ...                              "msg": "p%d: state at %d", "args": (3, 41), "created": 0.0,
    ...                              "partition": 3})
    >>> token = STAGE.set("enrich")
    >>> out = json.loads(JsonFormatter().format(rec)); STAGE.reset(token)
    >>> out["ts"], out["level"], out["logger"], out["message"]
    ('1970-01-01T00:00:00.000+00:00', 'INFO', 'crisis_radar.worker', 'p3: state at 41')
    >>> out["stage"], out["partition"]
    ('enrich', 3)
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

STAGE: ContextVar[str | None] = ContextVar("crisis_radar_stage", default=None)
PARTITION: ContextVar[int | None] = ContextVar("crisis_radar_partition", default=None)

# Attributes every LogRecord has: the rest came from ``extra=`` and become fields.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (non-JSON values as ``str``; non-ASCII kept as is)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        # Formatted in the logging call's own thread/task (StreamHandler), so the context is
        # the caller's.
        stage = getattr(record, "stage", None) or STAGE.get()
        partition = getattr(record, "partition", None)
        if partition is None:
            partition = PARTITION.get()
        if stage is not None:
            out["stage"] = stage
        if partition is not None:
            out["partition"] = partition
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


_OUT: list[IO[str]] = []  # the real stderr, kept before prints are redirected to the log


def logging_config(level: int | str) -> dict[str, Any]:
    """``logging.config.dictConfig`` input: every logger to stderr as JSON at ``level``."""
    if isinstance(level, str):
        level = level.upper()
    if not _OUT:
        _OUT.append(sys.stderr)
    return {
        "version": 1,
        "disable_existing_loggers": False,  # aiokafka/kafka loggers made at import stay live
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": _OUT[0],  # not sys.stderr: it may be a LinesToLog by now
            }
        },
        "root": {"level": level, "handlers": ["json"]},
    }


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("crisis_radar").critical("uncaught exception", exc_info=(kind, exc, tb))


class LinesToLog(io.TextIOBase):
    """A text stream that logs each line written to it (``print`` -> a JSON record)."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        super().__init__()
        self.logger, self.level = logger, level
        self._buf = ""
        self._busy = False  # logging's own error report, written here while logging a line

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self._emit(line)
        return len(s)

    def flush(self) -> None:
        if self._buf:
            line, self._buf = self._buf, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        if not line.strip():
            return
        if self._busy:
            _OUT[0].write(line + "\n")
            return
        self._busy = True
        try:
            self.logger.log(self.level, line.rstrip())
        finally:
            self._busy = False


def configure_json(level: int | str, logger: str, prints: bool = True) -> None:
    """JSON lines on stderr for this process: log records, Python warnings, uncaught exceptions
    (which would otherwise print plain tracebacks) and, with ``prints``, lines printed to
    stdout/stderr (as records of ``logger`` at WARNING: shown at the worker's default level, as
    Faust's redirect of prints does)."""
    logging.config.dictConfig(logging_config(level))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    if prints:
        sys.stdout = sys.stderr = LinesToLog(logging.getLogger(logger), logging.WARNING)
