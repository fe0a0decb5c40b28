"""fetch_movielens: embedded ml-latest-small, ml-100k from data_home, downloads.

The shared MovieLens folder (the ``data_home`` fixture) is read-only and is
never written to; download tests work in ``tmp_path`` with the network
replaced by a copy of a zip built from the shared files.
"""

import hashlib
import shutil
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from sklearn.dummy import DummyRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import cross_validate

from sklearn_recs.datasets import fetch_movielens, get_data_home
from sklearn_recs.datasets import _movielens

EMBEDDED = Path(_movielens.__file__).parent / "data" / "ml-latest-small.zip"
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


@pytest.fixture(scope="module")
def latest_small(tmp_path_factory):
    """From the embedded zip: an empty data_home, whatever SKLEARN_RECS_DATA says."""
    return fetch_movielens(data_home=tmp_path_factory.mktemp("empty_home"))


@pytest.fixture(scope="module")
def ml100k(data_home):
    return fetch_movielens("100k", data_home=data_home, folds=True)


def _assert_same_bunch(a, b):
    for key in ("data", "frame", "item_info", "item_genres", "tags", "user_info"):
        if key in a or key in b:
            assert_frame_equal(a[key], b[key])
    assert_series_equal(a.target, b.target)


def _copy_folder(source: Path, target: Path) -> Path:
    """Copy a folder's files, writable (the shared folder is read-only)."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        shutil.copyfile(path, target / path.name)
    return target


def _zip_100k(source: Path, target: Path, corrupt: str | None = None) -> Path:
    """A zip laid out like the official ml-100k.zip, from the shared files."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted((source / "ml-100k").iterdir()):
            content = path.read_bytes()
            if path.name == corrupt:
                content = content.replace(b"\t", b" ", 1)
            zf.writestr(f"ml-100k/{path.name}", content)
    return target


def _fake_download(archive: Path, calls: list):
    def download(url, path):
        calls.append(url)
        shutil.copyfile(archive, path)
    return download


# ml-latest-small ------------------------------------------------------------


def test_latest_small_is_embedded_and_offline(latest_small):
    X, y = latest_small.data, latest_small.target
    assert X.shape == (100_836, 3)
    assert list(X.columns) == ["user_id", "item_id", "timestamp"]
    assert latest_small.feature_names == ["user_id", "item_id", "timestamp"]
    assert latest_small.target_names == ["rating"]
    assert X["user_id"].nunique() == 610
    assert X["item_id"].nunique() == 9724
    assert (X.dtypes == np.int64).all() and y.dtype == np.float64
    assert y.name == "rating"
    assert y.min() == 0.5 and y.max() == 5.0
    assert set(np.unique(y * 2)) == set(range(1, 11))
    # First and last lines of ratings.csv.
    assert latest_small.frame.iloc[0].tolist() == [1, 1, 964982703, 4.0]
    assert latest_small.frame.iloc[-1].tolist() == [610, 170875, 1493846415, 3.0]
    assert list(latest_small.frame.columns) == ["user_id", "item_id", "timestamp", "rating"]
    assert "user_info" not in latest_small and "folds" not in latest_small
    assert "Harper" in latest_small.DESCR and "Konstan" in latest_small.DESCR
    assert "redistribute" in latest_small.DESCR


def test_latest_small_items(latest_small):
    items = latest_small.item_info
    assert items.shape[0] == 9742 and items.index.name == "item_id"
    assert items.index.is_unique
    assert set(latest_small.data["item_id"]) <= set(items.index)
    assert str(items["year"].dtype) == "Int64"
    toy = items.loc[1]
    assert toy["title"] == "Toy Story" and toy["year"] == 1995
    assert toy["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    # Year ranges, titles without a year, trailing spaces.
    death_note = items[items["title"] == "Death Note: Desu nôto"]
    assert death_note["year"].tolist() == [2006]
    assert items["year"].isna().sum() == 12
    assert items.loc[items["year"].isna(), "title"].str.contains("Babylon 5").any()
    assert not items["title"].str.contains(r"\(\d{4}\)\s*$").any()
    assert not items["title"].str.endswith(" ").any()
    # "(no genres listed)" gives an empty list and an all-zero genre row.
    no_genre = items["genres"].map(len) == 0
    assert no_genre.sum() == 34
    genres = latest_small.item_genres
    assert genres.index.equals(items.index)
    assert "(no genres listed)" not in genres.columns and "IMAX" in genres.columns
    assert genres.shape[1] == 19 and set(np.unique(genres)) == {0, 1}
    assert (genres.sum(axis=1).to_numpy() == items["genres"].map(len).to_numpy()).all()
    assert genres.loc[1, "Animation"] == 1 and genres.loc[1, "Drama"] == 0
    assert items.loc[1, "imdb_id"] == "0114709" and items.loc[1, "tmdb_id"] == 862


def test_latest_small_tags(latest_small):
    tags = latest_small.tags
    assert list(tags.columns) == ["user_id", "item_id", "tag", "timestamp"]
    assert len(tags) == 3683 and tags["item_id"].nunique() == 1572
    assert tags.iloc[0].tolist() == [2, 60756, "funny", 1445714994]
    items = latest_small.item_info
    assert items.loc[60756, "tags"].startswith("funny Highly quotable")
    assert (items["tags"] != "").sum() == 1572
    assert items.loc[4, "tags"] == ""
    # Ready for a text vectoriser, with no missing values to fill.
    tfidf = TfidfVectorizer().fit_transform(items["tags"])
    assert tfidf.shape[0] == len(items)


def test_embedded_zip_equals_grouplens_files(data_home):
    assert EMBEDDED.stat().st_size < 2 * 1024 * 1024
    names = ["README.txt", "links.csv", "movies.csv", "ratings.csv", "tags.csv"]
    with zipfile.ZipFile(EMBEDDED) as zf:
        assert sorted(zf.namelist()) == [f"ml-latest-small/{n}" for n in names]
        for name in names:
            info = zf.getinfo(f"ml-latest-small/{name}")
            assert info.compress_type == zipfile.ZIP_DEFLATED
            shared = (data_home / "ml-latest-small" / name).read_bytes()
            assert zf.read(info) == shared
            assert hashlib.sha256(shared).hexdigest() == _movielens._SHA256[
                "latest-small"][name]


def test_latest_small_from_data_home_matches_embedded(data_home, tmp_path, latest_small):
    from_folder = fetch_movielens(data_home=data_home)
    _assert_same_bunch(from_folder, latest_small)
    # An empty data_home falls back to the embedded copy and creates nothing.
    embedded = fetch_movielens(data_home=tmp_path / "absent", download_if_missing=False)
    _assert_same_bunch(embedded, latest_small)
    assert not (tmp_path / "absent").exists()


def test_latest_small_corrupted_folder(data_home, tmp_path):
    folder = _copy_folder(data_home / "ml-latest-small", tmp_path / "ml-latest-small")
    with open(folder / "ratings.csv", "ab") as fh:
        fh.write(b"1,2,5.0,964982703\n")
    with pytest.raises(OSError, match=r"ratings.csv in .* SHA-256 .* expected "
                                      r"80da8b33.*Delete .* embedded"):
        fetch_movielens(data_home=tmp_path)


def test_numpy_output_and_return_X_y(latest_small):
    X, y = fetch_movielens(return_X_y=True)  # default data_home: same data
    assert_frame_equal(X, latest_small.data)
    assert_series_equal(y, latest_small.target)
    bunch = fetch_movielens(as_frame=False)
    assert bunch.data.dtype == np.int64 and bunch.data.shape == (100_836, 3)
    assert bunch.target.dtype == np.float64 and bunch.frame is None
    np.testing.assert_array_equal(bunch.data, latest_small.data.to_numpy())
    np.testing.assert_array_equal(bunch.target, latest_small.target.to_numpy())
    assert isinstance(bunch.item_info, pd.DataFrame)


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"variant='1m' is invalid; choose one "
                                         r"of 'latest-small', '100k'"):
        fetch_movielens("1m")
    with pytest.raises(ValueError, match="folds=True is only available for "
                                         "variant='100k'"):
        fetch_movielens(folds=True)


# ml-100k from data_home ------------------------------------------------------


def test_100k(ml100k):
    X, y = ml100k.data, ml100k.target
    assert X.shape == (100_000, 3)
    assert X["user_id"].nunique() == 943 and X["item_id"].nunique() == 1682
    assert X["user_id"].min() == 1 and X["item_id"].max() == 1682
    assert sorted(y.unique()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    # First and last lines of u.data.
    assert ml100k.frame.iloc[0].tolist() == [196, 242, 881250949, 3.0]
    assert ml100k.frame.iloc[-1].tolist() == [12, 203, 879959583, 3.0]
    assert "may not redistribute" in ml100k.DESCR and "Harper" in ml100k.DESCR
    assert "tags" not in ml100k


def test_100k_items_and_users(ml100k):
    items = ml100k.item_info
    assert items.shape[0] == 1682 and items.index.name == "item_id"
    assert items.loc[1, "title"] == "Toy Story" and items.loc[1, "year"] == 1995
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[1, "release_date"] == pd.Timestamp("1995-01-01")
    # The year comes from the title (the film's), not the re-release date.
    assert items.loc[23, "title"] == "Taxi Driver" and items.loc[23, "year"] == 1976
    assert items.loc[23, "release_date"].year == 1996
    # latin-1 titles.
    assert items.loc[543, "title"] == "Misérables, Les"
    # The placeholder movie 267 and the truncated title without a year.
    assert items.loc[267, "title"] == "unknown" and pd.isna(items.loc[267, "year"])
    assert items.loc[267, "genres"] == []
    assert items.loc[1412, "year"] == 1995
    genres = ml100k.item_genres
    assert genres.shape == (1682, 18) and "unknown" not in genres.columns
    assert list(genres.columns[:3]) == ["Action", "Adventure", "Animation"]
    assert (genres.sum(axis=1).to_numpy() == items["genres"].map(len).to_numpy()).all()

    users = ml100k.user_info
    assert users.shape == (943, 4) and users.index.name == "user_id"
    assert users.loc[1].tolist() == [24, "M", "technician", "85711"]
    assert users.loc[74, "zip_code"] == "T8H1N"
    assert len(users["occupation"].cat.categories) == 21
    assert users["age"].between(7, 73).all()


def test_100k_folds_match_files(ml100k, ml100k_folds):
    frame = ml100k.frame[RATING_COLUMNS]
    assert len(ml100k.folds) == 5
    all_test = []
    for (train, test), (base_file, test_file) in zip(ml100k.folds, ml100k_folds):
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        assert len(train) == 80_000 and len(test) == 20_000
        assert np.intersect1d(train, test).size == 0
        for positions, expected in ((train, base_file), (test, test_file)):
            rows = frame.iloc[positions].sort_values(["user_id", "item_id"])
            expected = expected.sort_values(["user_id", "item_id"])
            np.testing.assert_array_equal(rows.to_numpy(), expected.to_numpy())
        all_test.append(test)
    # The five test sets partition the data.
    np.testing.assert_array_equal(np.sort(np.concatenate(all_test)), np.arange(100_000))


def test_100k_folds_plug_into_cross_validate(data_home):
    X, y, folds = fetch_movielens("100k", data_home=data_home, folds=True,
                                  return_X_y=True)
    scores = cross_validate(DummyRegressor(), X, y, cv=folds,
                            scoring="neg_root_mean_squared_error")
    assert len(scores["test_score"]) == 5
    assert np.all((-scores["test_score"] > 1.0) & (-scores["test_score"] < 1.3))


def test_100k_without_folds_reads_less(data_home, ml100k):
    bunch = fetch_movielens("100k", data_home=data_home, as_frame=False)
    assert "folds" not in bunch
    np.testing.assert_array_equal(bunch.data, ml100k.data.to_numpy())


def test_100k_corrupted_folder(data_home, tmp_path):
    folder = _copy_folder(data_home / "ml-100k", tmp_path / "ml-100k")
    (folder / "u.item").write_bytes((data_home / "ml-100k" / "u.item").read_bytes()[:-1])
    expected = _movielens._SHA256["100k"]["u.item"]
    with pytest.raises(OSError, match=rf"u.item in .*ml-100k is corrupted .* "
                                      rf"expected {expected}\. Delete .*ml-100k"):
        fetch_movielens("100k", data_home=tmp_path)
    (folder / "u1.base").unlink()
    (folder / "u.item").write_bytes((data_home / "ml-100k" / "u.item").read_bytes())
    fetch_movielens("100k", data_home=tmp_path)  # u1.base is only read for folds
    with pytest.raises(FileNotFoundError, match=r"u1.base is missing"):
        fetch_movielens("100k", data_home=tmp_path, folds=True)


# ml-100k download (the network is replaced) ----------------------------------


def test_100k_offline_error_says_where_to_put_files(tmp_path, monkeypatch):
    def no_network(url, path):
        raise AssertionError("must not download")

    monkeypatch.setattr(_movielens, "_download", no_network)
    home = tmp_path / "home"
    with pytest.raises(FileNotFoundError) as info:
        fetch_movielens("100k", data_home=home, download_if_missing=False)
    message = str(info.value)
    assert str(home / "ml-100k" / "u.data") in message
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in message
    assert "SKLEARN_RECS_DATA" in message and "download_if_missing=False" in message
    assert not home.exists()


def test_100k_download_failure(tmp_path, monkeypatch):
    def unreachable(url, path):
        Path(path).write_bytes(b"partial")
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(_movielens, "_download", unreachable)
    with pytest.raises(FileNotFoundError, match=r"ml-100k was not found in .*"
                                                r"Downloading it failed: .*Name or service"):
        fetch_movielens("100k", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial archive, no folder


def test_100k_download_verifies_and_installs(data_home, tmp_path, monkeypatch, ml100k):
    archive = _zip_100k(data_home, tmp_path / "ml-100k.zip")
    home = tmp_path / "home"
    calls = []
    monkeypatch.setattr(_movielens, "_download", _fake_download(archive, calls))
    bunch = fetch_movielens("100k", data_home=home, folds=True)
    assert calls == [_movielens.ML_100K_URL]
    assert sorted(p.name for p in home.iterdir()) == ["ml-100k"]  # no temporaries
    assert (home / "ml-100k" / "u.data").is_file()
    _assert_same_bunch(bunch, ml100k)
    for (a, b), (c, d) in zip(bunch.folds, ml100k.folds):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    # The second call reads the installed copy.
    fetch_movielens("100k", data_home=home)
    assert len(calls) == 1


def test_100k_download_checksum_mismatch(data_home, tmp_path, monkeypatch):
    archive = _zip_100k(data_home, tmp_path / "bad.zip", corrupt="u3.test")
    home = tmp_path / "home"
    monkeypatch.setattr(_movielens, "_download", _fake_download(archive, []))
    expected = _movielens._SHA256["100k"]["u3.test"]
    with pytest.raises(OSError) as info:
        fetch_movielens("100k", data_home=home)
    message = str(info.value)
    assert "u3.test" in message and expected in message
    got = message.split("checksum is ")[1].split(",")[0]
    assert len(got) == 64 and got != expected
    assert "Nothing was written" in message
    assert list(home.iterdir()) == []  # no ml-100k/, no temporaries


def test_100k_download_not_a_zip(tmp_path, monkeypatch):
    monkeypatch.setattr(_movielens, "_download",
                        lambda url, path: Path(path).write_bytes(b"<html>"))
    with pytest.raises(OSError, match="not a valid zip archive"):
        fetch_movielens("100k", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_100k_download_partial_or_corrupted_archive(data_home, tmp_path, monkeypatch, damage):
    archive = _zip_100k(data_home, tmp_path / "ml-100k.zip")
    content = bytearray(archive.read_bytes())
    if damage == "truncated":  # the connection dropped half-way
        content = content[:len(content) // 2]
    else:  # bytes flipped inside u.data, the zip directory intact
        start = content.index(b"ml-100k/u.data") + 100
        content[start:start + 64] = bytes(64)
    archive.write_bytes(bytes(content))
    home = tmp_path / "home"
    monkeypatch.setattr(_movielens, "_download", _fake_download(archive, []))
    with pytest.raises(OSError, match=rf"\({len(content)} bytes\) is not a valid zip archive: "
                                      r"it is truncated \(a partial download\) or corrupted "
                                      r"\(.+\); nothing was written to"):
        fetch_movielens("100k", data_home=home)
    assert list(home.iterdir()) == []  # no ml-100k/, no temporaries


def test_100k_download_interrupted(tmp_path, monkeypatch):
    def interrupted(url, path):
        Path(path).write_bytes(b"PK\x03\x04 the first megabyte")
        raise KeyboardInterrupt

    monkeypatch.setattr(_movielens, "_download", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch_movielens("100k", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the partial archive and the folder were removed


def test_100k_partial_folder_is_reported_not_replaced(data_home, tmp_path, monkeypatch):
    # An ml-100k/ left by an unzip that stopped half-way: never downloaded over.
    def no_network(url, path):
        raise AssertionError("must not download")

    monkeypatch.setattr(_movielens, "_download", no_network)
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    shutil.copyfile(data_home / "ml-100k" / "u.item", folder / "u.item")
    with pytest.raises(FileNotFoundError, match=r"u.data is missing: .*ml-100k is incomplete\. "
                                                r"Unzip the complete archive .* Delete .*ml-100k "
                                                r"to download a fresh copy"):
        fetch_movielens("100k", data_home=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["u.item"]


# get_data_home ----------------------------------------------------------------


def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_RECS_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == str(tmp_path / "from_env")
    assert (tmp_path / "from_env").is_dir()
    assert get_data_home(tmp_path / "explicit") == str(tmp_path / "explicit")
    monkeypatch.delenv("SKLEARN_RECS_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "sklearn_recs_data")
    assert get_data_home("~/other") == str(tmp_path / "other")


def test_100k_download_installs_only_the_expected_files(data_home, tmp_path, monkeypatch):
    archive = _zip_100k(data_home, tmp_path / "extra.zip")
    with zipfile.ZipFile(archive, "a") as zf:  # entries beyond the official files
        zf.writestr("ml-100k/evil.sh", b"rm -rf ~")
        zf.writestr("../outside.txt", b"escaped")
        zf.writestr("ml-100k/../../outside2.txt", b"escaped")
    home = tmp_path / "home"
    monkeypatch.setattr(_movielens, "_download", _fake_download(archive, []))
    fetch_movielens("100k", data_home=home)
    assert sorted(p.name for p in home.iterdir()) == ["ml-100k"]
    assert sorted(p.name for p in (home / "ml-100k").iterdir()) == sorted(
        _movielens._SHA256["100k"])
    assert not list(tmp_path.glob("outside*"))


def test_100k_nothing_is_unpacked_before_it_is_verified(data_home, tmp_path, monkeypatch):
    archive = _zip_100k(data_home, tmp_path / "bad.zip", corrupt="ub.test")
    home = tmp_path / "home"
    monkeypatch.setattr(_movielens, "_download", _fake_download(archive, []))
    written = []
    real_write = Path.write_bytes
    monkeypatch.setattr(Path, "write_bytes",
                        lambda self, data: written.append(self.name) or real_write(self, data))
    with pytest.raises(OSError, match="ub.test .*SHA-256"):
        fetch_movielens("100k", data_home=home)
    assert written == []  # the bad file is the last one: none of the others was written
