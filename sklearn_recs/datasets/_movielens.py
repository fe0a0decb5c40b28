"""MovieLens loaders: ml-latest-small (embedded) and ml-100k (downloaded).

ml-latest-small ships inside the package as ``data/ml-latest-small.zip``: the
five files of the official archive (``ratings.csv``, ``movies.csv``,
``tags.csv``, ``links.csv`` and ``README.txt``, which its licence requires),
unchanged, under ``ml-latest-small/`` in one zip compressed with deflate at
level 9. ml-100k may not be redistributed: it is downloaded from GroupLens
into ``data_home`` on first use.

Every file read, from the embedded zip or from ``data_home``, is checked
against the SHA-256 sums in ``_SHA256`` before it is parsed: hashing costs
about 1 ms per MB, so a corrupted or partial copy is caught on every call
rather than only after a download.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = ["fetch_movielens", "get_data_home"]

_VARIANTS = ("latest-small", "100k")
_FOLDERS = {"latest-small": "ml-latest-small", "100k": "ml-100k"}
_DESCR = {"latest-small": "movielens_latest_small.rst", "100k": "movielens_100k.rst"}
_EMBEDDED_ZIP = "ml-latest-small.zip"
ML_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
_PAGES = {
    "latest-small": "https://grouplens.org/datasets/movielens/latest/",
    "100k": "https://grouplens.org/datasets/movielens/100k/",
}

# SHA-256 of every file of the official archives, as unpacked.
_SHA256 = {
    "100k": {
        "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
        "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
        "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
        "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
        "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
        "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
        "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
        "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
        "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
        "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
        "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
        "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
    },
    "latest-small": {
        "README.txt": "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404",
        "links.csv": "028a4a1d17751ca9276e0e0718cfc22356350f224a996e1ec348c23274b9209d",
        "movies.csv": "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc",
        "ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8",
        "tags.csv": "68eec00a0820c2faa8863a6df7032f13d5899a4462bce9a97213905297ff3d34",
    },
}

# The largest file of ml-100k (u.data) is under 2 MB.
_MAX_MEMBER_BYTES = 16 * 2**20

_FEATURE_NAMES = ["user_id", "item_id", "timestamp"]
_TARGET_NAME = "rating"
# "(1995)" or "(2006–2007)" at the end of a title, with optional spaces.
_TITLE_YEAR = r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{4})?\)\s*$"


def _data_home_path(data_home: str | os.PathLike | None) -> Path:
    if data_home is None:
        data_home = os.environ.get("SKLEARN_RECS_DATA") or Path("~", "sklearn_recs_data")
    return Path(data_home).expanduser()


def get_data_home(data_home: str | os.PathLike | None = None) -> str:
    """Return the path of the sklearn_recs data folder, creating it if needed.

    The folder holds datasets that cannot ship with the package (ml-100k),
    downloaded on first use, and may hold unpacked copies of the others.
    It is, in order of precedence: the ``data_home`` argument, the
    ``SKLEARN_RECS_DATA`` environment variable, or ``~/sklearn_recs_data``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. ``~`` is expanded.

    Returns
    -------
    str
        The absolute path of the folder.

    See Also
    --------
    fetch_movielens : Load MovieLens, downloading ml-100k into this folder.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_recs.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     home = get_data_home(Path(tmp) / "recs")
    ...     Path(home).is_dir()
    True
    """
    path = _data_home_path(data_home).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _download(url: str, path: Path) -> None:
    """Download ``url`` into the file ``path`` (tests replace this function)."""
    with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def _check_sha256(
    content: bytes, variant: str, name: str, where: str, fix: str
) -> None:
    expected = _SHA256[variant][name]
    got = hashlib.sha256(content).hexdigest()
    if got != expected:
        raise OSError(
            f"{name} in {where} is corrupted or from another release: its "
            f"SHA-256 checksum is {got}, expected {expected}. {fix}"
        )


def _missing_100k_message(home: Path) -> str:
    return (
        f"ml-100k was not found in {home} (no folder {home / 'ml-100k'}). "
        f"Download {ML_100K_URL} (see {_PAGES['100k']}) and unzip it into "
        f"{home}, so that {home / 'ml-100k' / 'u.data'} exists; or pass "
        "data_home= (or set the SKLEARN_RECS_DATA environment variable) to "
        "the folder that holds ml-100k/."
    )


def _verified_members(archive, where: str, home: Path) -> dict:
    """``{name: bytes}`` of the expected ml-100k files, each checked against its
    SHA-256 while still in memory: nothing is unpacked before it is verified."""
    contents = {}
    with zipfile.ZipFile(archive) as zf:
        for name, expected in _SHA256["100k"].items():
            try:
                info = zf.getinfo(f"ml-100k/{name}")
            except KeyError:
                raise OSError(
                    f"{name} is missing from {where}; nothing was written to {home}."
                ) from None
            if info.file_size > _MAX_MEMBER_BYTES:  # before decompressing it
                raise OSError(
                    f"{name} in {where} declares {info.file_size} bytes, more than any "
                    f"file of ml-100k; nothing was written to {home}."
                )
            contents[name] = zf.read(info)
            _check_sha256(contents[name], "100k", name, where,
                          f"Nothing was written to {home}; try again.")
    return contents


def _fetch_100k(home: Path) -> None:
    """Download, unpack and verify ml-100k, then move it into ``home``.

    Everything is written to temporary paths inside ``home`` and renamed into
    place only once every file has been verified, so that an interrupted or
    corrupted download never leaves a partial ``ml-100k/`` behind.
    """
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileNotFoundError(
            f"{_missing_100k_message(home)} It cannot be downloaded there: {exc}"
        ) from exc
    fd, archive = tempfile.mkstemp(prefix=".ml-100k-", suffix=".zip.part", dir=home)
    os.close(fd)
    unpacked = Path(tempfile.mkdtemp(prefix=".ml-100k-", dir=home))
    try:
        try:
            _download(ML_100K_URL, Path(archive))
        except OSError as exc:  # urllib.error.URLError is an OSError
            raise FileNotFoundError(
                f"{_missing_100k_message(home)} Downloading it failed: {exc}"
            ) from exc
        where = f"the archive downloaded from {ML_100K_URL}"
        try:
            contents = _verified_members(archive, where, home)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise OSError(
                f"The file downloaded from {ML_100K_URL} "
                f"({os.path.getsize(archive)} bytes) is not a valid zip archive: "
                f"it is truncated (a partial download) or corrupted ({exc}); "
                f"nothing was written to {home}. Try again."
            ) from exc
        # Only the expected files, each verified, are written (to a temporary
        # folder, moved into place in one rename); other entries never are.
        folder = unpacked / "ml-100k"
        folder.mkdir()
        for name, content in contents.items():
            (folder / name).write_bytes(content)
        target = home / "ml-100k"
        try:
            os.replace(folder, target)
        except OSError:
            if not (target / "u.data").is_file():
                raise
            # Another process put a complete copy in place meanwhile.
    finally:
        Path(archive).unlink(missing_ok=True)
        shutil.rmtree(unpacked, ignore_errors=True)


def _read_files(variant: str, folder: Path | None, names: list[str]) -> dict[str, bytes]:
    """Read and verify files from ``folder``, or from the embedded zip if None."""
    if folder is None:
        ref = resources.files(__package__).joinpath("data", _EMBEDDED_ZIP)
        with ref.open("rb") as fh, zipfile.ZipFile(fh) as zf:
            contents = {name: zf.read(f"{_FOLDERS[variant]}/{name}") for name in names}
        for name, content in contents.items():
            _check_sha256(content, variant, name, f"the embedded {_EMBEDDED_ZIP}",
                          "Reinstall sklearn_recs.")
        return contents
    fix = (f"Delete {folder} to download a fresh copy." if variant == "100k"
           else f"Delete {folder} to use the copy embedded in sklearn_recs.")
    contents = {}
    for name in names:
        try:
            contents[name] = (folder / name).read_bytes()
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"{folder / name} is missing: {folder} is incomplete. Unzip the "
                f"complete archive from {_PAGES[variant]} there. {fix}"
            ) from exc
        _check_sha256(contents[name], variant, name, str(folder), fix)
    return contents


def _split_titles(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split "Title (1995)" into the title and the nullable Int64 year."""
    parts = titles.str.extract(_TITLE_YEAR)
    title = parts["title"].fillna(titles.str.strip())
    return title.astype("str"), parts["year"].astype("Int64")


def _genre_table(genres: pd.Series, names: list[str]) -> pd.DataFrame:
    """0/1 frame of the genre lists in ``genres``, with columns ``names``."""
    flat = genres.explode().dropna()
    rows = genres.index.get_indexer(flat.index)
    cols = pd.Index(names).get_indexer(flat.to_numpy())
    table = np.zeros((len(genres), len(names)), dtype=np.uint8)
    table[rows, cols] = 1
    return pd.DataFrame(table, index=genres.index, columns=pd.Index(names, dtype="str"))


def _ratings(content: bytes, **read_csv_kwargs: Any) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(content),
        dtype={"user_id": np.int64, "item_id": np.int64,
               _TARGET_NAME: np.float64, "timestamp": np.int64},
        **read_csv_kwargs,
    )


def _load_latest_small(folder: Path | None) -> dict[str, Any]:
    files = _read_files(
        "latest-small", folder, ["ratings.csv", "movies.csv", "tags.csv", "links.csv"]
    )
    columns = ["user_id", "item_id", _TARGET_NAME, "timestamp"]
    ratings = _ratings(files["ratings.csv"], header=0, names=columns)
    tags = pd.read_csv(
        io.BytesIO(files["tags.csv"]), header=0,
        names=["user_id", "item_id", "tag", "timestamp"],
        dtype={"user_id": np.int64, "item_id": np.int64, "tag": "str",
               "timestamp": np.int64},
    )
    movies = pd.read_csv(
        io.BytesIO(files["movies.csv"]), header=0,
        names=["item_id", "title", "genres"], index_col="item_id",
        dtype={"item_id": np.int64, "title": "str", "genres": "str"},
    )
    links = pd.read_csv(
        io.BytesIO(files["links.csv"]), header=0,
        names=["item_id", "imdb_id", "tmdb_id"], index_col="item_id",
        dtype={"item_id": np.int64, "imdb_id": "str", "tmdb_id": "Int64"},
    )
    title, year = _split_titles(movies["title"])
    genres = movies["genres"].str.split("|").map(
        lambda names: [g for g in names if g != "(no genres listed)"]
    )
    genre_names = sorted(set(genres.explode().dropna()))
    item_tags = tags.groupby("item_id", sort=False)["tag"].agg(" ".join)
    items = pd.DataFrame(
        {
            "title": title,
            "year": year,
            "genres": genres,
            "tags": item_tags.reindex(movies.index, fill_value="").astype("str"),
            "imdb_id": links["imdb_id"].reindex(movies.index),
            "tmdb_id": links["tmdb_id"].reindex(movies.index),
        },
        index=movies.index,
    )
    return {
        "ratings": ratings,
        "item_info": items,
        "item_genres": _genre_table(genres, genre_names),
        "tags": tags,
    }


def _load_100k(folder: Path, folds: bool) -> dict[str, Any]:
    names = ["u.data", "u.item", "u.user", "u.genre", "u.occupation"]
    fold_names = [f"u{k}.{part}" for k in range(1, 6) for part in ("base", "test")]
    files = _read_files("100k", folder, names + (fold_names if folds else []))
    columns = ["user_id", "item_id", _TARGET_NAME, "timestamp"]
    ratings = _ratings(files["u.data"], sep="\t", header=None, names=columns)

    genre_list = pd.read_csv(
        io.BytesIO(files["u.genre"]), sep="|", header=None,
        names=["genre", "code"], dtype={"genre": "str", "code": np.int64},
    ).sort_values("code")["genre"].tolist()
    raw = pd.read_csv(
        io.BytesIO(files["u.item"]), sep="|", header=None, encoding="latin-1",
        names=["item_id", "title", "release_date", "video_release_date",
               "imdb_url", *genre_list],
        index_col="item_id",
        dtype={"item_id": np.int64, "title": "str", "release_date": "str",
               "imdb_url": "str", **{g: np.uint8 for g in genre_list}},
    )
    title, year = _split_titles(raw["title"])
    release_date = pd.to_datetime(raw["release_date"], format="%d-%b-%Y")
    year = year.fillna(release_date.dt.year.astype("Int64"))
    # The "unknown" flag marks movies without genres: drop it, as
    # "(no genres listed)" is dropped in ml-latest-small.
    genre_names = [g for g in genre_list if g != "unknown"]
    item_genres = raw[genre_names].copy()
    item_genres.columns = pd.Index(genre_names, dtype="str")
    genre_array = np.asarray(genre_names, dtype=object)
    genres = pd.Series(
        [list(genre_array[row.astype(bool)]) for row in item_genres.to_numpy()],
        index=raw.index, name="genres", dtype=object,
    )
    items = pd.DataFrame(
        {"title": title, "year": year, "genres": genres,
         "release_date": release_date, "imdb_url": raw["imdb_url"]},
        index=raw.index,
    )

    occupations = files["u.occupation"].decode("ascii").split()
    users = pd.read_csv(
        io.BytesIO(files["u.user"]), sep="|", header=None,
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        index_col="user_id",
        dtype={"user_id": np.int64, "age": np.int64, "gender": "category",
               "occupation": pd.CategoricalDtype(occupations), "zip_code": "str"},
    )
    result = {"ratings": ratings, "item_info": items, "item_genres": item_genres,
              "user_info": users}
    if folds:
        result["folds"] = _fold_indices(ratings, files)
    return result


def _fold_indices(
    ratings: pd.DataFrame, files: dict[str, bytes]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row positions into ``ratings`` of the u1..u5 base/test files."""
    n_items = int(ratings["item_id"].max()) + 1
    keys = ratings["user_id"].to_numpy() * n_items + ratings["item_id"].to_numpy()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if np.any(sorted_keys[1:] == sorted_keys[:-1]):
        raise ValueError("u.data holds duplicate (user, item) pairs; cannot map folds.")

    def positions(name: str) -> np.ndarray:
        part = pd.read_csv(io.BytesIO(files[name]), sep="\t", header=None,
                           usecols=[0, 1], dtype=np.int64).to_numpy()
        wanted = part[:, 0] * n_items + part[:, 1]
        found = np.searchsorted(sorted_keys, wanted).clip(max=len(keys) - 1)
        if not np.array_equal(sorted_keys[found], wanted):
            raise ValueError(f"{name} holds (user, item) pairs absent from u.data.")
        return np.sort(order[found])

    return [(positions(f"u{k}.base"), positions(f"u{k}.test")) for k in range(1, 6)]


def fetch_movielens(
    variant: str = "latest-small",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    as_frame: bool = True,
    return_X_y: bool = False,
    folds: bool = False,
) -> Bunch | tuple[Any, ...]:
    """Load a MovieLens ratings dataset (GroupLens, Harper & Konstan 2015).

    ``"latest-small"`` (100,836 ratings, 610 users, 9,724 rated movies, half
    stars, with tags) ships inside sklearn_recs and loads offline with no
    set-up. ``"100k"`` (100,000 ratings, 943 users, 1,682 movies, user
    demographics, canonical 5-fold splits) may not be redistributed: it is
    read from ``data_home/ml-100k/`` and downloaded there from GroupLens when
    missing. Every file read is checked against its SHA-256 sum.

    Parameters
    ----------
    variant : {"latest-small", "100k"}, default="latest-small"
        Which dataset to load.
    data_home : str or path-like, default=None
        Folder that holds (or will hold) the unpacked archives, as
        ``ml-100k/`` and ``ml-latest-small/``. By default the
        ``SKLEARN_RECS_DATA`` environment variable, else
        ``~/sklearn_recs_data``; see :func:`get_data_home`. For
        ``"latest-small"`` an ``ml-latest-small/`` folder there is read
        instead of the embedded copy (with the same result).
    download_if_missing : bool, default=True
        For ``"100k"``: download the archive when ``data_home`` lacks it,
        instead of raising ``FileNotFoundError``. Ignored for
        ``"latest-small"``, which never needs the network.
    as_frame : bool, default=True
        If True, ``data`` is a DataFrame and ``target`` a Series; if False,
        ``data`` is an int64 array of (user id, item id, timestamp) rows and
        ``target`` a float64 array, and ``frame`` is None. ``item_info``,
        ``item_genres``, ``user_info`` and ``tags`` are DataFrames either way.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch, or
        ``(data, target, folds)`` when ``folds=True``.
    folds : bool, default=False
        For ``"100k"``: also return the canonical five folds ``u1`` to
        ``u5``. ``"latest-small"`` has no canonical folds.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : DataFrame of shape (n_ratings, 3) or ndarray
            Columns ``user_id``, ``item_id``, ``timestamp`` (Unix seconds):
            column 0 holds users and column 1 items, the package's ``X``.
        target : Series of shape (n_ratings,) or ndarray
            The ratings, as floats (name ``rating``).
        frame : DataFrame of shape (n_ratings, 4) or None
            ``data`` and ``target`` together; None when ``as_frame=False``.
        feature_names : list of str
            ``["user_id", "item_id", "timestamp"]``.
        target_names : list of str
            ``["rating"]``.
        item_info : DataFrame indexed by ``item_id``
            ``title`` (without the year), ``year`` (nullable Int64),
            ``genres`` (a list of str per movie); for ``"latest-small"`` also
            ``tags`` (the movie's tags joined by spaces, "" for none: ready
            for a ``TfidfVectorizer``), ``imdb_id`` and ``tmdb_id``; for
            ``"100k"`` also ``release_date`` and ``imdb_url``.
        item_genres : DataFrame indexed by ``item_id``
            One 0/1 (uint8) column per genre.
        tags : DataFrame
            ``"latest-small"`` only: ``user_id``, ``item_id``, ``tag``,
            ``timestamp``, one row per tag application.
        user_info : DataFrame indexed by ``user_id``
            ``"100k"`` only: ``age``, ``gender``, ``occupation``,
            ``zip_code``.
        folds : list of 5 (ndarray, ndarray) tuples
            ``folds=True`` only: the (train, test) row positions into
            ``data`` of ``u1.base``/``u1.test`` to ``u5.base``/``u5.test``;
            pass it as ``cv=`` to ``GridSearchCV`` or ``cross_validate``.
        DESCR : str
            Description of the dataset, its licence and its citation.

    (data, target) or (data, target, folds) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    ValueError
        On an unknown ``variant``, or ``folds=True`` with
        ``"latest-small"``.
    FileNotFoundError
        When ml-100k is not in ``data_home`` and cannot be downloaded
        (``download_if_missing=False`` or no network); the message says
        where to put the files.
    OSError
        When a file fails its SHA-256 check (the message names the file and
        both sums); a failed download leaves nothing in ``data_home``.

    See Also
    --------
    get_data_home : The default ``data_home``.
    make_interactions : Synthetic interactions of any size.

    Notes
    -----
    The ``year`` of a movie is the one its title gives (the film's year,
    also for re-releases); in ml-100k the release date supplies it for the
    one movie whose title lacks it. Genres flagged "unknown" (ml-100k) or
    "(no genres listed)" (ml-latest-small) give an empty list and an all-zero
    ``item_genres`` row.

    The movie and user tables are ``item_info`` and ``user_info`` rather
    than ``items`` and ``users`` because a Bunch is a dict: ``bunch.items``
    is the dict method.

    References
    ----------
    .. [1] F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens
       Datasets: History and Context. ACM Transactions on Interactive
       Intelligent Systems (TiiS) 5, 4: 19:1-19:19.
       https://doi.org/10.1145/2827872

    Examples
    --------
    >>> from sklearn_recs.datasets import fetch_movielens
    >>> ml = fetch_movielens()
    >>> ml.data.shape
    (100836, 3)
    >>> ml.frame.head(2)
       user_id  item_id  timestamp  rating
    0        1        1  964982703     4.0
    1        1        3  964981247     4.0
    >>> toy_story = ml.item_info.loc[1]
    >>> print(toy_story["title"], toy_story["year"], toy_story["genres"])
    Toy Story 1995 ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy']
    >>> X, y = fetch_movielens(return_X_y=True, as_frame=False)
    >>> X.dtype, y.dtype
    (dtype('int64'), dtype('float64'))

    The five canonical folds of ml-100k plug into model selection:

    >>> from sklearn.model_selection import cross_validate
    >>> ml = fetch_movielens("100k", folds=True)  # doctest: +SKIP
    >>> cross_validate(model, ml.data, ml.target, cv=ml.folds)  # doctest: +SKIP
    """
    if variant not in _VARIANTS:
        raise ValueError(
            f"fetch_movielens: variant={variant!r} is invalid; choose one of "
            f"{', '.join(repr(v) for v in _VARIANTS)}."
        )
    if folds and variant != "100k":
        raise ValueError(
            f"fetch_movielens: folds=True is only available for variant='100k' "
            f"(its canonical u1..u5 splits); {variant!r} has none. Use a "
            "splitter from sklearn_recs.model_selection instead."
        )
    home = _data_home_path(data_home)
    folder = home / _FOLDERS[variant]
    if variant == "latest-small":
        loaded = _load_latest_small(folder if folder.is_dir() else None)
    else:
        if not folder.is_dir():
            if not download_if_missing:
                raise FileNotFoundError(
                    f"{_missing_100k_message(home)} (download_if_missing=False.)"
                )
            _fetch_100k(home)
        loaded = _load_100k(folder, folds)

    ratings = loaded.pop("ratings")
    data = ratings[_FEATURE_NAMES]
    target = ratings[_TARGET_NAME]
    frame = ratings[[*_FEATURE_NAMES, _TARGET_NAME]]
    if not as_frame:
        data = data.to_numpy(dtype=np.int64)
        target = target.to_numpy(dtype=np.float64)
        frame = None
    if return_X_y:
        return (data, target, loaded["folds"]) if folds else (data, target)
    descr = resources.files(__package__).joinpath("descr", _DESCR[variant])
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=list(_FEATURE_NAMES),
        target_names=[_TARGET_NAME],
        DESCR=descr.read_text(encoding="utf-8"),
        **loaded,
    )
