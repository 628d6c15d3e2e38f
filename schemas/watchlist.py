"""The watchlist document (``deploy/watchlist.yaml``): its shape and its rules, in one place.

Terms come out folded (case-folded, whitespace collapsed, NFC: as ``detectors.text.fold``) with
the ``#``/``@`` of hashtags/handles removed, each once. ``keywords`` and ``exclude`` are a list
(every language) or a mapping from language code to list (``{all: [...], pt: [...]}``: a
language's terms count only in posts of that language; ``all``: every language). An error names
the path in the document (``brands[3].keywords: ...``) and, read from a file, the line
(``watchlist.yaml:42``).

>>> wl = parse_watchlist({"brands": [{"id": "acme", "keywords": ["Acme  Corp"], "handles": ["@X"]}],
... })
>>> wl.brands[0].keywords, wl.brands[0].handles
(('acme corp',), ('x',))
>>> try:
...     parse_watchlist({"brands": [{"id": "acme", "keywords": []}]})
... except WatchlistError as e:
...     print(e)
brands[0].keywords: empty list: give at least one keyword, or remove the field
>>> wl = parse_watchlist([{"id": "vale", "keywords": {"all": ["vale s.a."], "pt": ["Vale"]},
...                        "exclude": {"pt": ["vale a pena"]}}])
>>> wl.brands[0].terms_by_language("keywords"), wl.brands[0].terms_by_language("exclude")
((('', 'vale s.a.'), ('pt', 'vale')), (('pt', 'vale a pena'),))
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")
ALL_LANGUAGES = "all"  # the key of a per-language mapping for terms of every language


class WatchlistError(ValueError):
    """A malformed watchlist: ``what`` is wrong, ``where`` (``file:line``, or empty)."""

    def __init__(self, what: str, where: str = "") -> None:
        self.what, self.where = what, where
        super().__init__(f"{where}: {what}" if where else what)


def _fold(text: str) -> str:
    t = " ".join(text.casefold().split())  # = detectors.text.fold (schemas imports no detector)
    return t if t.isascii() else unicodedata.normalize("NFC", t)


def _terms(strip: str = "", single_token: bool = False) -> Any:
    def check(values: list[str]) -> tuple[str, ...]:
        out = []
        for v in values:
            term = _fold(v).lstrip(strip)
            if not term:
                raise ValueError(f"empty entry {v!r}")
            if single_token and " " in term:
                raise ValueError(f"entry {v!r} contains a space")
            out.append(term)
        return tuple(dict.fromkeys(out))

    return AfterValidator(check)


def _id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"must be a lowercase id like 'acme', got {value!r}")
    return value


def _lang(code: str) -> str:
    """Primary language subtag: 'en-GB' -> 'en'."""
    return code.strip().casefold().replace("_", "-").split("-", 1)[0]


def _lang_key(value: str) -> str:
    code = _lang(value)
    if code != ALL_LANGUAGES and not _LANG_CODE.match(code):
        raise ValueError(
            f"{value!r} is not a language code: use an ISO 639-1 code like 'pt', "
            f"or '{ALL_LANGUAGES}' for every language"
        )
    return value  # as written: _cross_checks finds two keys of one language ('pt', 'pt-BR')


def _non_empty(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("empty list: give at least one entry, or remove the language")
    return values


Terms = Annotated[list[str], _terms()]
LangKey = Annotated[str, AfterValidator(_lang_key)]


def _form(value: object) -> str:
    return "dict[lang,list[str]]" if isinstance(value, dict) else "list[str]"


# A list of terms (every language) or a mapping language -> list; errors name the path
# (``keywords.pt[1]``): the union's member tags hold a '[' and _message drops them from it.
_AsList = Tag("list[str]")
_AsMapping = Tag("dict[lang,list[str]]")
KeywordTerms = Annotated[
    Annotated[Terms, _AsList]
    | Annotated[dict[LangKey, Annotated[Terms, AfterValidator(_non_empty)]], _AsMapping],
    Discriminator(_form),
]
ExcludeTerms = Annotated[
    Annotated[Terms, _AsList] | Annotated[dict[LangKey, Terms], _AsMapping], Discriminator(_form)
]

# Platforms a brand can have official accounts on (schemas.models.Platform, minus file sources).
OFFICIAL_PLATFORMS = ("bluesky", "mastodon", "x", "reddit", "simulated", "other")


def _official(value: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """``{platform: [account, ...]}``: handles (``@`` dropped) or author ids, case-folded."""
    out: dict[str, tuple[str, ...]] = {}
    for platform, accounts in value.items():
        if platform not in OFFICIAL_PLATFORMS:
            raise ValueError(
                f"unknown platform {platform!r}; allowed: {', '.join(OFFICIAL_PLATFORMS)}"
            )
        folded = []
        for a in accounts:
            acc = _fold(a).lstrip("@")
            if not acc or " " in acc:
                raise ValueError(f"{platform}: account {a!r} must be one handle or author id")
            folded.append(acc)
        if not folded:
            raise ValueError(f"{platform}: empty list: name an account, or remove the platform")
        out[platform] = tuple(dict.fromkeys(folded))
    return out


class BrandSpec(BaseModel):
    """One watched brand as written in the watchlist."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: Annotated[str, AfterValidator(_id)]
    name: str | None = None
    keywords: KeywordTerms | None = None
    hashtags: Annotated[list[str], _terms("#", single_token=True)] | None = None
    handles: Annotated[list[str], _terms("@", single_token=True)] | None = None
    exclude: ExcludeTerms | None = None
    languages: Terms | None = None
    group: str | None = None
    team: str | None = None
    # the brand's own accounts: their posts are its replies, never crowd posts
    official: Annotated[dict[str, list[str]], AfterValidator(_official)] | None = None

    @field_validator("keywords")
    @classmethod
    def _some_keywords(cls, value: Any) -> Any:
        if value is not None and not value:  # `keywords: []` is a brand half written
            what = "mapping" if isinstance(value, dict) else "list"
            raise ValueError(f"empty {what}: give at least one keyword, or remove the field")
        return value

    @model_validator(mode="after")
    def _matchable(self) -> BrandSpec:
        if not (self.keywords or self.hashtags or self.handles):
            raise ValueError("needs at least one of 'keywords', 'hashtags', 'handles'")
        return self

    @property
    def language_codes(self) -> frozenset[str]:
        return frozenset(_lang(x) for x in self.languages or ())

    def terms_by_language(
        self, field: Literal["keywords", "exclude"]
    ) -> tuple[tuple[str, str], ...]:
        """(language, term) pairs of ``keywords`` or ``exclude``; language "" for every one."""
        value = getattr(self, field)
        if not value:
            return ()
        if not isinstance(value, dict):
            return tuple(("", t) for t in value)
        return tuple(
            ("" if _lang(lang) == ALL_LANGUAGES else _lang(lang), t)
            for lang, terms in value.items()
            for t in terms
        )

    def terms_of_every_language(self, field: Literal["keywords", "exclude"]) -> tuple[str, ...]:
        """The terms of ``field`` that count in every language."""
        return tuple(t for lang, t in self.terms_by_language(field) if not lang)

    @property
    def all_keywords(self) -> tuple[str, ...]:
        """Every keyword, of every language, each once."""
        return tuple(dict.fromkeys(t for _, t in self.terms_by_language("keywords")))


class WatchlistSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    brands: list[BrandSpec] = Field(min_length=1)


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Mapping[str, Any]) -> tuple[tuple[int | str, ...], str]:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))  # union tags
    msg = str(err["msg"]).removeprefix("Value error, ")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = sorted(BrandSpec.model_fields) if len(loc) > 1 else ["brands"]
        msg = f"unknown field; allowed: {', '.join(allowed)}"
    elif kind == "missing" and loc == ("brands",):
        msg = "missing: a watchlist is a top-level 'brands:' list"
    elif kind == "too_short" and loc == ("brands",):
        msg = "empty list: watch at least one brand"
    elif kind == "model_type":
        msg = f"expected a mapping (id: ..., keywords: [...]), got {err.get('input')!r}"
    elif kind in ("string_type", "list_type", "dict_type"):
        msg = f"{msg}, got {err.get('input')!r}"
        if kind == "list_type" and loc[-1] in ("keywords", "exclude"):
            msg += " (a list, or a mapping from language code to list)"
    return loc, msg


def _cross_checks(spec: WatchlistSpec) -> None:
    """Rules across brands: unique ids, a handle addresses one brand, an official account
    speaks for one brand."""
    ids: dict[str, int] = {}
    handles: dict[str, int] = {}
    official: dict[tuple[str, str], int] = {}
    for i, b in enumerate(spec.brands):
        for platform, accounts in (b.official or {}).items():
            for a in accounts:
                if (platform, a) in official:
                    j = official[(platform, a)]
                    raise _Located(
                        ("brands", i, "official", platform),
                        f"account {a!r} is also an official {platform} account of brand "
                        f"{spec.brands[j].id!r} (brands[{j}]); an account speaks for one brand",
                    )
                official[(platform, a)] = i
        if b.id in ids:
            raise _Located(("brands", i, "id"), f"duplicate id {b.id!r} (also brands[{ids[b.id]}])")
        ids[b.id] = i
        for h in b.handles or ():
            if h in handles:
                other = spec.brands[handles[h]].id
                raise _Located(
                    ("brands", i, "handles"),
                    f"handle {h!r} is also a handle of brand {other!r} (brands[{handles[h]}]); "
                    "a handle addresses one brand",
                )
            handles[h] = i
        codes = b.language_codes
        for field in ("keywords", "exclude"):
            value = getattr(b, field)
            seen: dict[str, str] = {}
            for key in value if isinstance(value, dict) else ():
                lang = _lang(key)
                if lang in seen:
                    raise _Located(
                        ("brands", i, field, key),
                        f"language {lang!r} given twice (also {seen[lang]!r})",
                    )
                seen[lang] = key
                if codes and lang != ALL_LANGUAGES and lang not in codes:
                    raise _Located(
                        ("brands", i, field, key),
                        f"language {lang!r} is not one of the brand's languages "
                        f"({', '.join(sorted(codes))}): its {field} would never count",
                    )


class _Located(Exception):
    def __init__(self, loc: tuple[int | str, ...], msg: str) -> None:
        self.loc, self.msg = loc, msg


def parse_watchlist(data: object, where: Any = None) -> WatchlistSpec:
    """Validate a watchlist document (``{"brands": [...]}`` or a bare list of brands).
    ``where(loc) -> str`` locates a path (``file:line``) for the error."""
    doc = {"brands": data} if isinstance(data, list) else data
    try:
        try:
            spec = WatchlistSpec.model_validate(doc if doc is not None else {})
        except ValidationError as exc:
            errors = exc.errors()
            loc, msg = _message(errors[0])
            if len(errors) > 1:
                msg += f" (and {len(errors) - 1} more)"
            raise _Located(loc, msg) from None
        _cross_checks(spec)
    except _Located as bad:
        path = _path(bad.loc)
        what = f"{path}: {bad.msg}" if path else bad.msg
        raise WatchlistError(what, where(bad.loc) if where else "") from None
    return spec


def load_watchlist(path: str | Path) -> WatchlistSpec:
    """Read and validate a watchlist file; errors say ``file:line``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise WatchlistError(f"cannot read the watchlist ({e.strerror})", str(p)) from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise WatchlistError(f"invalid YAML: {problem}", where) from e
    if node is None:  # an empty file
        return parse_watchlist(data, lambda loc: f"{p}:1")
    if isinstance(data, list):
        key = yaml.ScalarNode("tag:yaml.org,2002:str", "brands", node.start_mark, node.end_mark)
        node = yaml.MappingNode("tag:yaml.org,2002:map", [(key, node)], node.start_mark)
    return parse_watchlist(data, lambda loc: f"{p}:{_line(node, loc)}")


def _line(node: Any, loc: Sequence[int | str]) -> int:
    """1-based line of the deepest node of ``loc`` found in the composed YAML."""
    line: int = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                break
            line = hit[0].start_mark.line + 1  # the key's line: "keywords: [...]"
            node = hit[1]
        else:
            break
    return line
