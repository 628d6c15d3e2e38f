"""Brand matcher benchmark: a large generated watchlist against generated posts.

``python -m bench.brands [--n 200000] [--terms 5000]``: posts/s on one core (wall and CPU time),
automaton build time, and the share of posts that matched.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from bench import save
from crisis_radar.progress import progress_bar
from detectors.brands import BrandMatcher, Watchlist

_SYLL = ["ka", "lo", "mi", "ne", "ru", "ta", "po", "shi", "ve", "da", "gu", "ri", "zo", "fe"]
_FILLER = [
    "my",
    "the",
    "is",
    "down",
    "again",
    "and",
    "still",
    "no",
    "refund",
    "from",
    "this",
    "app",
    "update",
    "broke",
    "everything",
    "thanks",
    "for",
    "nothing",
    "love",
    "great",
    "service",
    "today",
    "why",
    "so",
    "slow",
    "order",
    "never",
    "arrived",
]


def make_watchlist(n_terms: int, rng: random.Random) -> tuple[Watchlist, list[str]]:
    """Six terms per brand (keyword, phrase, two hashtags, a handle, an exclusion)."""
    names: set[str] = set()
    while len(names) < n_terms // 6:
        name = "".join(rng.choice(_SYLL) for _ in range(rng.randint(2, 4)))
        if name not in _FILLER:  # "lo"+"ve" would make every "love" a brand mention
            names.add(name)
    brands = [
        {
            "id": f"b{i}",
            "name": n.capitalize(),
            "keywords": [n, f"{n} mobile"],
            "hashtags": [n, f"{n}fail"],
            "handles": [f"{n}help"],
            "exclude": [f"{n} museum"],
            "group": f"g{i % 20}",
            "team": "desk",
        }
        for i, n in enumerate(sorted(names))
    ]
    return Watchlist.from_dict({"brands": brands}), sorted(names)


def make_posts(n: int, names: list[str], rng: random.Random) -> list[str]:
    """Posts of 8-25 words; 30% mention a brand (plain, #tag, @handle or phrase)."""
    posts = []
    for _ in range(n):
        words = rng.choices(_FILLER, k=rng.randint(8, 25))
        if rng.random() < 0.3:
            b = rng.choice(names)
            form = rng.choice([b.capitalize(), f"#{b}fail", f"@{b}help", f"{b} mobile"])
            words.insert(rng.randrange(len(words) + 1), form)
        posts.append(" ".join(words))
    return posts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.brands", description=__doc__)
    ap.add_argument("--n", type=int, default=200_000, help="posts to match")
    ap.add_argument("--terms", type=int, default=5000, help="watchlist terms (6 per brand)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    wl, names = make_watchlist(args.terms, rng)
    n_terms = sum(len(b.keywords) + len(b.hashtags) + len(b.handles) + len(b.exclude) for b in wl)
    t0 = time.perf_counter()
    m = BrandMatcher(wl)
    build_s = time.perf_counter() - t0
    posts = make_posts(args.n, names, rng)

    matched = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for text in progress_bar(posts, file=sys.stderr, desc="matching", mininterval=2.0):
        matched += bool(m.match(text, lang="en"))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    out = {
        "brands": len(wl),
        "terms": n_terms,
        "build_s": build_s,
        "posts": len(posts),
        "matched_share": matched / len(posts),
        "posts_per_s_wall": len(posts) / wall,
        "posts_per_s_cpu": len(posts) / cpu,
    }
    print(
        f"brands: {len(wl)} brands / {n_terms} terms, automaton built in {build_s * 1e3:.0f} ms; "
        f"{len(posts):,} posts, {out['matched_share']:.1%} matched; "
        f"{out['posts_per_s_wall']:,.0f} posts/s wall, {out['posts_per_s_cpu']:,.0f} posts/s CPU"
    )
    save("brands", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
