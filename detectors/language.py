"""Language of a post: ISO 639-1 code or "und" (interface stub; implementation follows)."""

from __future__ import annotations

from collections.abc import Sequence

UNDETERMINED = "und"


def identify(text: str, hint: str | None = None) -> str:
    """Language of `text` as an ISO 639-1 code ("pt"), or "und" when it cannot be told.

    `hint` is the platform's own tag (any BCP 47 form: "pt-BR", "en_US"); a valid one wins.
    Never raises.
    """
    return UNDETERMINED


def identify_many(texts: Sequence[str], hints: Sequence[str | None] | None = None) -> list[str]:
    """`identify` over a batch; `hints` is parallel to `texts` (or None)."""
    hs = hints if hints is not None else [None] * len(texts)
    return [identify(t, h) for t, h in zip(texts, hs, strict=True)]
