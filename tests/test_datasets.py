"""Loaders in the publishers' formats, bad-input errors, fingerprints, and the published counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recbench.datasets import get_dataset_info, load_dataset, open_dataset
from recbench.errors import DataFormatError, DatasetNotFoundError, RecbenchError
from recbench.protocol import load_protocol, prepare
from tests.conftest import shared_dataset

USERS = "1::F::1::10::48067\n2::M::56::16::70072\n"
MOVIES = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure|Children's|Fantasy\n"


def write_ml1m(directory: Path, ratings: str, users: str = USERS, movies: str = MOVIES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ratings.dat").write_text(ratings)
    (directory / "users.dat").write_text(users)
    (directory / "movies.dat").write_bytes(movies.encode("latin-1"))
    return directory


def good_ratings(n: int = 12) -> str:
    return "".join(f"{1 + i % 2}::{1 + i % 2}::{1 + i % 5}::{978300000 + i}\n" for i in range(n))


def test_ml1m_loader_reads_documented_format(tmp_path):
    raw = load_dataset("ml-1m", write_ml1m(tmp_path, good_ratings()))
    assert len(raw.ratings) == 12
    assert raw.users.set_index("user_id").loc[1, "gender"] == "female"
    assert raw.users.set_index("user_id").loc[1, "age"] == "under 18"
    assert raw.users.set_index("user_id").loc[2, "occupation"] == "self-employed"
    assert raw.items.set_index("item_id").loc[1, "genre"] == "Animation"
    assert raw.fingerprint.canonical == "no"  # users.dat/movies.dat differ from the release


@pytest.mark.parametrize(
    ("ratings", "expected"),
    [
        (good_ratings() + "1::1::4\n", r"ratings\.dat, line 13: too few fields"),
        (good_ratings() + "1::1::", r"ratings\.dat, line 13: too few fields"),
        (good_ratings(3) + "1::abc::4::978300000\n", r"ratings\.dat, line 4: field 'item_id' is 'abc', expected an integer"),
        (good_ratings(3) + "1::1::4::978300000::9\n", r"ratings\.dat: malformed line"),
        ("", r"ratings\.dat: file is empty"),
        ("\n\n", r"ratings\.dat: file is empty"),
        (good_ratings(3) + "1::1::7::978399999\n", r"ratings.dat: rating 7\.0 on line 4 is not one of"),
        (good_ratings(3) + "9::1::4::978300000\n", r"refer to users missing from the user file \(first: user 9\)"),
        (good_ratings(3) + "1::1::4::99999999999999999999999\n", r"ratings\.dat, line 4: field 'timestamp'"),
        (good_ratings(3) + "1::1::1e308::978399999\n", r"ratings\.dat: rating inf on line 4 is not one of"),
    ],
)
def test_bad_ratings_file_names_the_problem(tmp_path, ratings, expected):
    with pytest.raises(DataFormatError, match=expected):
        load_dataset("ml-1m", write_ml1m(tmp_path, ratings))


def test_missing_column_in_users_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"users\.dat, line 1: too few fields"):
        load_dataset("ml-1m", write_ml1m(tmp_path, good_ratings(), users="1::F::1::10\n2::M::56::16\n"))


def test_bad_code_in_users_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"users\.dat, line 2: Age is 57"):
        load_dataset("ml-1m", write_ml1m(tmp_path, good_ratings(), users="1::F::1::10::1\n2::M::57::16::2\n"))


def test_missing_dataset_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RECBENCH_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match=r"ml-100k.*not found in .*download https://files\.grouplens\.org"):
        open_dataset("ml-100k")


def test_unknown_dataset_lists_choices():
    with pytest.raises(RecbenchError, match=r"unknown dataset 'ml-2m'; choose one of: .*ml-100k.*synth"):
        get_dataset_info("ml-2m")


def test_ml100k_copy_with_an_edited_file_is_not_canonical(tmp_path):
    source = shared_dataset("ml-100k")
    for name in ("u.data", "u.user", "u.item", "u.genre"):
        shutil.copy(source / name, tmp_path / name)
    assert open_dataset("ml-100k", tmp_path).fingerprint.canonical == "yes"
    with open(tmp_path / "u.data", "a") as handle:
        handle.write("1\t2\t3\t881250950\n")
    fingerprint = open_dataset("ml-100k", tmp_path).fingerprint
    assert fingerprint.canonical == "no" and "u.data" in fingerprint.note


# ------------------------------------------------------------------ published counts
def test_real_ml100k_counts():
    data = load_protocol("ml-100k", shared_dataset("ml-100k"))
    assert data.fingerprint.canonical == "yes"
    # 100,000 ratings - 5 x 943 users (each has >= 20) = 95,285 samples
    assert (data.n_samples, data.n_train, data.n_valid, data.n_test) == (95_285, 76_228, 9_528, 9_529)
    assert data.n_features == 943 + 2 + 7 + 21 + 795 + 1682 + 1664 + 19 + 5 == 5_138


def test_real_ml1m_u2999_counts():
    data = load_protocol("ml-1m-u2999", shared_dataset("ml-1m-u2999"))
    assert data.fingerprint.canonical == "yes"
    # 487,650 ratings - 5 x 2,999 users = 472,655 samples
    assert (data.n_samples, data.n_train, data.n_valid, data.n_test) == (472_655, 378_124, 47_265, 47_266)
    assert data.n_features == 2999 + 2 + 7 + 21 + 2006 + 3615 + 3615 + 18 + 5 == 12_288


def test_u2999_files_under_the_ml1m_name_are_flagged_as_the_subset():
    fingerprint = open_dataset("ml-1m", shared_dataset("ml-1m-u2999")).fingerprint
    assert (fingerprint.canonical, fingerprint.variant) == ("no", "ml-1m-u2999")


def test_generated_ml1m_shaped_file_reproduces_published_counts(tmp_path):
    from recbench.testing.writers import write_ml1m_shaped

    write_ml1m_shaped(tmp_path, seed=0)
    data = prepare(load_dataset("ml-1m", tmp_path))
    assert (data.n_samples, data.n_train, data.n_valid, data.n_test) == (970_009, 776_007, 97_000, 97_002)
    sizes = {spec.name: spec.size for spec in data.fields}
    assert sizes == {
        "user_id": 6040, "gender": 2, "age": 7, "occupation": 21, "zip": 3439,
        "item_id": 3706, "title": 3706, "genre": 18,
    }  # fmt: skip
    assert data.n_features == 16_944


def test_a_rating_listed_twice_at_the_same_time_is_refused_with_both_lines(tmp_path):
    lines = good_ratings().splitlines()
    ratings = "\n".join([*lines, lines[4]]) + "\n"
    with pytest.raises(DataFormatError, match=rf"ratings\.dat: lines 5 and {len(lines) + 1} both rate item"):
        load_dataset("ml-1m", write_ml1m(tmp_path, ratings))


def test_a_re_rating_at_another_time_is_kept_in_time_order(tmp_path):
    user, item, rating, when = good_ratings().splitlines()[4].split("::")
    ratings = good_ratings() + f"{user}::{item}::{rating}::{int(when) + 10_000}\n"
    raw = load_dataset("ml-1m", write_ml1m(tmp_path, ratings))
    assert len(raw.ratings) == len(good_ratings().splitlines()) + 1


def test_an_unreadable_ratings_file_is_a_data_error_naming_it(tmp_path, monkeypatch):
    import recbench.datasets.tables as tables

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    directory = write_ml1m(tmp_path, good_ratings())
    monkeypatch.setattr(tables, "_parse", refuse)
    with pytest.raises(DataFormatError, match=r"ratings\.dat: cannot be read \(Permission denied\)"):
        load_dataset("ml-1m", directory)


def test_a_read_error_while_fingerprinting_names_the_file(tmp_path, monkeypatch):
    import recbench.datasets.fetch as fetch

    directory = write_ml1m(tmp_path, good_ratings())

    def refuse(path, *args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fetch, "file_digest", refuse)
    with pytest.raises(DataFormatError, match=r"ratings\.dat: cannot be read \(Input/output error\)"):
        load_dataset("ml-1m", directory)
