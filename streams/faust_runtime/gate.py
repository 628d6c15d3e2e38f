"""What every patch declares, and the checks made before any of them touches Faust.

A patch here replaces or wraps private code of faust-streaming and aiokafka, so it is only
right for the exact versions it was written for. Before anything is patched, ``check``
verifies for each enabled patch: the installed versions (``importlib.metadata``) equal the
declared ones; every private name it touches exists; the upstream functions it copies or
mirrors still have the source it was written from (a digest of their text, read from the
installed files, so a hand-edited or upstream-patched Faust is refused too). A failure raises
``FaustPatchError`` with one line naming the package, both versions and the switch that turns
the patch off.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from radar_base.errors import ConfigError

DOC = "docs/faust-runtime.md"


class FaustPatchError(ConfigError):
    """A Faust patch refused to apply: a configuration error (wrong faust-streaming/aiokafka
    version, or the private code it patches is not what it was written for). The worker must
    not start half-patched; the message is one line and names the switch that turns the patch
    off (exit status 2, no traceback, as every ConfigError)."""


def installed_version(dist: str) -> str:
    """Installed version of a distribution ("faust-streaming", "aiokafka")."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class Patch:
    """One fenced patch.

    ``touches``: private names it relies on, ``"module:Class.attr"`` (a class attribute or
    method) or ``"module:Class#attr"`` (an instance attribute, found assigned or annotated in
    the source of the class or a base). ``mirrors``: ``"module:Class.function"`` -> digest of
    the upstream source the patch copies, mirrors or wraps with assumptions about its body.
    """

    name: str
    switch: str  # the Settings field (environment variable CRISIS_RADAR_<SWITCH>)
    written_for: Mapping[str, str]  # distribution -> exact version
    touches: tuple[str, ...]
    install: Callable[[], None]
    mirrors: Mapping[str, str] | None = None
    requires: tuple[str, ...] = ()  # patches that must be applied with this one

    @property
    def env(self) -> str:
        return f"CRISIS_RADAR_{self.switch.upper()}"

    def refuse(self, what: str) -> FaustPatchError:
        return FaustPatchError(
            f"Faust patch {self.name}: {what}; set {self.env}=0 to run without it ({DOC})"
        )


def _resolve(spec: str) -> tuple[type, str, bool]:
    module, _, rest = spec.partition(":")
    instance = "#" in rest
    owner, attr = rest.split("#" if instance else ".", 1) if rest else ("", "")
    obj: object = importlib.import_module(module)
    for part in owner.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise AttributeError(f"{module}.{owner} is not a class")
    return obj, attr, instance


_ASSIGNED = r"(?m)(\bself\.{0}\s*(:[^=\n]*)?=(?!=)|^\s+{0}\s*:)"


def exists(spec: str) -> bool:
    """Whether the private name ``spec`` (see ``Patch``) exists in the installed code."""
    try:
        cls, attr, instance = _resolve(spec)
    except (ImportError, AttributeError, ValueError):
        return False
    if not instance:
        return hasattr(cls, attr)
    pattern = re.compile(_ASSIGNED.format(re.escape(attr)))
    for base in cls.__mro__:
        try:
            if pattern.search(inspect.getsource(base)):
                return True
        except (OSError, TypeError):  # builtins: no Python source
            continue
    return False


def source_digest(spec: str) -> str:
    """sha256 (16 hex digits) of the text of ``module:Class.function`` in the installed file,
    read from disk: the original even after a patch replaced it in memory."""
    module, _, qual = spec.partition(":")
    cls_name, func = qual.rsplit(".", 1)
    mod = sys.modules.get(module) or importlib.import_module(module)
    path = Path(inspect.getfile(mod))
    text = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.name == cls_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == func:
                    body = ast.get_source_segment(text, item) or ""
                    return hashlib.sha256(body.encode()).hexdigest()[:16]
    return "missing"


def check(patch: Patch) -> None:
    """Raise ``FaustPatchError`` unless ``patch`` was written for what is installed."""
    for dist, want in patch.written_for.items():
        got = installed_version(dist)
        if got != want:
            raise patch.refuse(f"written for {dist} {want}, installed is {dist} {got}")
    for spec in patch.touches:
        if not exists(spec):
            raise patch.refuse(f"{spec} not found in the installed code")
    for spec, digest in (patch.mirrors or {}).items():
        got = source_digest(spec)
        if got != digest:
            raise patch.refuse(
                f"{spec} differs from the source it was written from "
                f"(digest {got}, expected {digest})"
            )
