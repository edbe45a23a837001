"""``synth``: a small, generated, MovieLens-shaped dataset with a known planted structure.

Why it exists: the licensed MovieLens files cannot ship with the project, yet every model, the
protocol and the demo need a dataset that loads in milliseconds and on which *history
matters*. ``synth`` is that dataset. It has the same shape as ML-1M (users with gender / age
bucket / occupation / zip, movies with a readable title and a first genre, whole-star ratings
1..5, timestamps) so every code path a MovieLens run takes is exercised.

The planted structure (what a good model can learn, and why a history model should win):

* **Long-term taste.** Every user likes 2-3 genres and dislikes 2 others. The genre
  affinity is the strongest driver of whether a rating is above 3.
* **Item quality.** Every movie has a latent quality; the second strongest driver. Better
  movies are also watched more often.
* **Generosity.** A per-user rating bias, visible in the user's mean rating.
* **Demographics, mildly.** Gender, age bucket and occupation tilt the genre affinities (and
  the choice of liked genres) a little, so profile fields carry some signal on their own.
* **Short-term drift, weakly.** A slow AR(1) mood per user shifts ratings up or down over
  time; the last few ratings reveal it a little.
* **Random viewing order.** Users pick movies (slightly more often from liked genres) and
  watch them in a random order, so the 10 most recent behaviours show a few genres only,
  while the whole history, or same-genre behaviours retrieved from it, reveal the taste well.

Ratings come from an ordinal-logistic model: ``latent = logit + logistic noise`` cut at fixed
thresholds, so ``P(rating > 3) = sigmoid(logit)`` exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recbench.datasets.base import AGE_BUCKETS, DatasetInfo, RawDataset, register_dataset
from recbench.datasets.movielens import ML1M_GENRES, ML1M_OCCUPATIONS

#: how common each genre is as a movie's first genre (roughly ML-1M's shape: Drama and
#: Comedy dominate, Film-Noir and Western are rare).
_GENRE_SHARE = np.array([12, 5, 3, 4, 20, 5, 3, 22, 2, 1, 6, 2, 2, 3, 3, 4, 2, 1], dtype=np.float64)
_GENDER_SHARE = np.array([0.28, 0.72])  # female, male (ML-1M is ~72% male)
_AGE_SHARE = np.array([0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06])
_GENDERS: tuple[str, ...] = ("female", "male")

# Title vocabulary: "The {adjective} {noun} (year)". 48 x 48 x 3 patterns x 70 years gives
# ~480k distinct titles, enough for the ML-25M-sized fixtures that reuse this generator.
_ADJECTIVES: tuple[str, ...] = (
    "Silent", "Crimson", "Hidden", "Last", "Golden", "Broken", "Midnight", "Secret", "Wild",
    "Lonely", "Distant", "Burning", "Frozen", "Electric", "Velvet", "Savage", "Gentle",
    "Restless", "Forgotten", "Endless", "Iron", "Painted", "Hollow", "Bright", "Dark",
    "Quiet", "Lost", "Red", "Blue", "Black", "White", "Emerald", "Northern", "Southern",
    "Sleeping", "Dancing", "Falling", "Rising", "Wandering", "Stolen", "Bitter", "Sweet",
    "Little", "Great", "Strange", "Final", "Seventh", "Eternal",
)  # fmt: skip
_NOUNS: tuple[str, ...] = (
    "Harbor", "Kingdom", "River", "Garden", "Stranger", "Promise", "Horizon", "Machine",
    "Summer", "Winter", "Highway", "Island", "Detective", "Empire", "Mountain", "Letter",
    "Shadow", "Journey", "Station", "Lighthouse", "Orchard", "Frontier", "Circus", "Voyage",
    "Witness", "Carnival", "Desert", "Affair", "Planet", "Castle", "Fortune", "Heart",
    "City", "Forest", "Canyon", "Diary", "Bridge", "Dream", "Storm", "Road", "Mirror",
    "Hotel", "Ocean", "Café", "Signal", "Symphony", "Outlaw", "Comet",
)  # fmt: skip
_FIRST_YEAR, _N_YEARS = 1930, 70


def readable_titles(rng: np.random.Generator, n: int, article_last: bool = False) -> list[str]:
    """``n`` distinct, readable movie titles with a year, e.g. ``The Silent Harbor (1994)``.

    Titles are drawn without replacement from a fixed combinatorial vocabulary, so they are
    unique by construction (the ML-1M feature count has as many titles as movies).
    ``article_last`` writes the leading article MovieLens-style (``Silent Harbor, The
    (1994)``), which also puts commas in titles, as the real files have.
    """
    n_adj, n_noun, n_pattern = len(_ADJECTIVES), len(_NOUNS), 3
    total = n_adj * n_noun * n_pattern * _N_YEARS
    if n > total:
        raise ValueError(f"can make at most {total} distinct titles, asked for {n}")
    codes = rng.choice(total, size=n, replace=False)
    codes, year = np.divmod(codes, _N_YEARS)
    codes, pattern = np.divmod(codes, n_pattern)
    adj, noun = np.divmod(codes, n_noun)
    return [
        _title(_ADJECTIVES[a], _NOUNS[b], int(p), _FIRST_YEAR + int(y), article_last)
        for a, b, p, y in zip(adj, noun, pattern, year)
    ]


def _title(adjective: str, noun: str, pattern: int, year: int, article_last: bool) -> str:
    article = ("The", "A", "")[pattern]
    core = f"{adjective} {noun}"
    if not article:
        return f"{core} ({year})"
    if article_last:
        return f"{core}, {article} ({year})"
    return f"{article} {core} ({year})"


def generate_synth(
    n_users: int = 600,
    n_items: int = 400,
    ratings_per_user: tuple[int, int] = (20, 120),
    seed: int = 0,
) -> RawDataset:
    """Generate the ``synth`` dataset deterministically from ``seed`` (see the module doc).

    The defaults give ~42k ratings, so one demo epoch of any model takes seconds.
    ``ratings_per_user`` is the inclusive range of ratings per user; its lower end should be at
    least 6 so every user yields samples under the protocol's "5 earlier ratings" rule.
    """
    low, high = ratings_per_user
    if not 1 <= low <= high <= n_items:
        raise ValueError(f"ratings_per_user must satisfy 1 <= low <= high <= n_items, got {ratings_per_user}")
    rng = np.random.default_rng(seed)
    users, demo_tilt = _make_users(rng, n_users)
    affinity, liked = _make_tastes(rng, demo_tilt)
    items, item_genre, quality, popularity = _make_items(rng, n_items)
    counts = rng.integers(low, high + 1, size=n_users)
    user_idx, item_idx = _choose_watched(rng, counts, liked[:, item_genre], popularity)
    logits = _rating_logits(rng, counts, user_idx, item_idx, affinity, item_genre, quality)
    ratings = pd.DataFrame(
        {
            "user_id": (user_idx + 1).astype(np.int64),
            "item_id": (item_idx + 1).astype(np.int64),
            "rating": _ordinal_ratings(rng, logits),
            "timestamp": _timestamps(rng, counts),
        }
    )
    return RawDataset(
        name="synth",
        ratings=ratings,
        users=users,
        items=items,
        user_fields=("gender", "age", "occupation", "zip"),
        text_user_fields=("gender", "age", "occupation"),
        genres=ML1M_GENRES,
        rating_values=(1.0, 2.0, 3.0, 4.0, 5.0),
        item_noun="movie",
    )


def _make_users(rng: np.random.Generator, n_users: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Profiles, plus each user's demographic tilt over genres (sum of a gender, an age and
    an occupation effect), which is how demographics become mildly predictive."""
    gender = rng.choice(len(_GENDERS), size=n_users, p=_GENDER_SHARE)
    age = rng.choice(len(AGE_BUCKETS), size=n_users, p=_AGE_SHARE)
    occupation = rng.integers(0, len(ML1M_OCCUPATIONS), size=n_users)
    zip_pool = rng.choice(100_000, size=max(1, n_users // 2), replace=False)
    zips = rng.choice(zip_pool, size=n_users)
    tilt = (
        _genre_effects(rng, len(_GENDERS), 0.5)[gender]
        + _genre_effects(rng, len(AGE_BUCKETS), 0.4)[age]
        + _genre_effects(rng, len(ML1M_OCCUPATIONS), 0.3)[occupation]
    )
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, n_users + 1, dtype=np.int64),
            "gender": [_GENDERS[g] for g in gender],
            "age": [AGE_BUCKETS[a] for a in age],
            "occupation": [ML1M_OCCUPATIONS[o] for o in occupation],
            "zip": [f"{z:05d}" for z in zips],
        }
    )
    return users, tilt


def _genre_effects(rng: np.random.Generator, n_groups: int, sd: float) -> np.ndarray:
    """Random per-group genre effects, centred so that no group rates higher overall: the
    demographic signal is *which* genres a group likes, not a global shift (which would also
    make the positive rate swing with the seed)."""
    effects = rng.normal(0.0, sd, (n_groups, len(ML1M_GENRES)))
    share = _GENRE_SHARE / _GENRE_SHARE.sum()
    return effects - (effects @ share)[:, None]


def _make_tastes(rng: np.random.Generator, demo_tilt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Long-term genre affinity per user: 2-3 liked genres (drawn with the demographic tilt
    and genre commonness), 2 disliked ones, plus the tilt itself and a little noise.

    Returns ``(affinity, liked)``, both ``(n_users, n_genres)``; ``liked`` is 0/1.
    """
    n_users, n_genres = demo_tilt.shape
    liked = np.zeros((n_users, n_genres))
    disliked = np.zeros((n_users, n_genres))
    like_weight = np.sqrt(_GENRE_SHARE)[None, :] * np.exp(1.5 * demo_tilt)
    n_liked = rng.integers(2, 4, size=n_users)
    for u in range(n_users):
        p = like_weight[u] / like_weight[u].sum()
        liked[u, rng.choice(n_genres, size=n_liked[u], replace=False, p=p)] = 1.0
        others = np.flatnonzero(liked[u] == 0)
        disliked[u, rng.choice(others, size=2, replace=False)] = 1.0
    affinity = 2.0 * liked - 1.2 * disliked + 0.5 * demo_tilt + rng.normal(0.0, 0.3, liked.shape)
    return affinity, liked


def _make_items(rng: np.random.Generator, n_items: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Movies: a unique readable title, a first genre, a latent quality and a popularity
    that grows with quality (good movies are watched more, as in real data)."""
    genre = rng.choice(len(ML1M_GENRES), size=n_items, p=_GENRE_SHARE / _GENRE_SHARE.sum())
    quality = rng.normal(0.0, 0.9, size=n_items)
    popularity = np.exp(0.6 * quality + rng.normal(0.0, 0.8, size=n_items))
    items = pd.DataFrame(
        {
            "item_id": np.arange(1, n_items + 1, dtype=np.int64),
            "title": readable_titles(rng, n_items),
            "genre": [ML1M_GENRES[g] for g in genre],
        }
    )
    return items, genre, quality, popularity


def _choose_watched(
    rng: np.random.Generator, counts: np.ndarray, liked_items: np.ndarray, popularity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which movies each user watches, in watching order.

    Each user draws ``counts[u]`` distinct movies with weight ``popularity x e^(0.4 liked)``
    (Gumbel top-k = sampling without replacement), so liked genres are only mildly
    over-represented (e^0.4 = 1.5x). The watching order is then shuffled uniformly: taste is spread over the
    whole history rather than concentrated in the recent part.

    Returns flat ``(user_index, item_index)`` arrays, user by user, in watching order.
    """
    log_w = np.log(popularity)[None, :] + 0.4 * liked_items
    keys = log_w + rng.gumbel(size=log_w.shape)
    ranked = np.argsort(-keys, axis=1)
    chosen = [rng.permutation(ranked[u, :c]) for u, c in enumerate(counts)]
    user_idx = np.repeat(np.arange(len(counts)), counts)
    return user_idx, np.concatenate(chosen)


def _rating_logits(
    rng: np.random.Generator,
    counts: np.ndarray,
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    affinity: np.ndarray,
    item_genre: np.ndarray,
    quality: np.ndarray,
) -> np.ndarray:
    """``logit(P(rating > 3))`` of every rating: strong genre affinity and quality terms, a
    per-user generosity, and a weak slow drift along each user's sequence."""
    generosity = rng.normal(0.0, 0.6, size=len(counts))[user_idx]
    drift = _ar1_drift(rng, counts, rho=0.9, sd=0.35)
    return 1.2 * affinity[user_idx, item_genre[item_idx]] + 0.9 * quality[item_idx] + generosity + drift - 0.5


def _ar1_drift(rng: np.random.Generator, counts: np.ndarray, rho: float, sd: float) -> np.ndarray:
    """A stationary AR(1) series per user (flat, user by user): the short-term mood."""
    parts = []
    innovation_sd = sd * np.sqrt(1.0 - rho**2)
    for c in counts:
        x = np.empty(c)
        x[0] = rng.normal(0.0, sd)
        noise = rng.normal(0.0, innovation_sd, size=c)
        for k in range(1, c):
            x[k] = rho * x[k - 1] + noise[k]
        parts.append(x)
    return np.concatenate(parts)


#: cut points on the latent scale; the one at 0 separates 3 from 4, so P(r > 3) = sigmoid(logit)
_CUTS = np.array([-2.9, -1.6, 0.0, 1.7])


def _ordinal_ratings(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """Whole-star ratings 1..5 from the logits (ordinal logistic model)."""
    latent = logits + rng.logistic(0.0, 1.0, size=logits.shape)
    return (1 + np.searchsorted(_CUTS, latent)).astype(np.float32)


_EPOCH_2000 = 946_684_800  # 2000-01-01T00:00:00Z


def _timestamps(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Strictly increasing integer timestamps per user (flat, user by user).

    Users start at random points of two years and rate at their own pace (mean gap between
    one hour and three days), so users overlap in time and the global time split puts most
    users in both train and test.
    """
    n_users = len(counts)
    start = _EPOCH_2000 + rng.integers(0, 365 * 86_400, size=n_users)
    mean_gap = np.exp(rng.uniform(np.log(6 * 3_600), np.log(7 * 86_400), size=n_users))
    user_idx = np.repeat(np.arange(n_users), counts)
    gaps = 1 + np.floor(rng.exponential(1.0, size=len(user_idx)) * mean_gap[user_idx])
    gaps = gaps.astype(np.int64)
    offsets = np.cumsum(gaps)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    before_user = np.repeat(offsets[first] - gaps[first], counts)
    return start[user_idx] + offsets - before_user


register_dataset(
    DatasetInfo(
        name="synth",
        description=(
            "Generated MovieLens-shaped dataset (600 users, 400 movies, ~42k ratings) with a "
            "planted long-term genre taste that the whole history reveals better than the "
            "last 10 behaviours; needs no files."
        ),
        files=(),
        loader=lambda _dir: generate_synth(),
        embedded=True,
    )
)
