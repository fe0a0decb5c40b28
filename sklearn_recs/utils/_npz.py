"""A validating reader of the ``.npz`` files written by :func:`sklearn_recs.serving.save_npz`.

A served model file may come from anyone, so nothing in it is trusted. The
reader checks, in this order, and raises :class:`~sklearn_recs.exceptions.InvalidFileError`
naming the member and the problem at the first violation:

1. the zip central directory: no duplicate, encrypted or oddly compressed
   members;
2. every member's ``.npy`` header (dtype, shape, memory order), read by
   decompressing the header only: no object dtype (so no pickle), the
   declared size equals the zip entry's size, and the total of the declared
   sizes stays within the size cap -- all **before** any array is
   decompressed;
3. the family's allow-list: each member of the estimator family recorded
   in the file, with its dtype kind and its shape in terms of the numbers
   of users and items (read from the id vocabularies) and of shared inner
   dimensions; a member outside the list is refused unread;
4. the values: every float finite, ids unique and sorted, every sparse
   structure consistent (``indptr`` starting at 0, non-decreasing and ending
   at the number of stored values, ``indices`` within ``[0, n_columns)``),
   small scalars within their ranges.

Each member is decompressed into an array of exactly its declared size; a
member whose data is longer or shorter than declared is refused.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from .._retrieval import LIMITS as _RETRIEVAL_LIMITS
from .._retrieval import N_JOBS_LIMITS as _N_JOBS_LIMITS
from ..exceptions import InvalidFileError

__all__ = ["FAMILIES", "read_export"]

# Separates a sparse matrix's name from its parts in the file (``left__data``).
SEP = "__"
CSR_PARTS = ("data", "indices", "indptr", "shape")

_HEADER_MEMBERS = ("format", "format_version", "estimator", "kind")
_MAX_HEADER_BYTES = 10_000
# Default size cap: this many times the file's own size, plus a floor. Real
# models' arrays compress far less than that; deflate reaches ~1000x only on
# long runs of one value, the stuff of decompression bombs.
_DEFAULT_RATIO = 64
_DEFAULT_FLOOR = 64 * 2**20
_READ_CHUNK = 2**20

# -- the allow-list ----------------------------------------------------------------
# A spec is (dtype kinds, shape, storage): the kinds are numpy's dtype.kind
# letters; a shape entry is an int, "U" (users), "I" (items) or another
# name, a dimension that all members naming it share; storage is "dense",
# "sparse" or "any". A name ending in "?" is optional.
_FLOAT = "f"
_IDS = "iuUf"
_COMMON = {
    "format": ("U", (), "dense"),
    "format_version": ("iu", (), "dense"),
    "estimator": ("U", (), "dense"),
    "kind": ("U", (), "dense"),
    "users": (_IDS, ("U",), "dense"),
    "items": (_IDS, ("I",), "dense"),
    "interactions": (_FLOAT, ("U", "I"), "sparse"),
    "popularity": (_FLOAT, ("I",), "dense"),
    "fallback_mean": (_FLOAT, (), "dense"),
    "fallback_user": (_FLOAT, ("U",), "dense"),
    "fallback_item": (_FLOAT, ("I",), "dense"),
    "similarity_vectors?": (_FLOAT, ("I", "s"), "any"),
}
# Approximate retrieval (sklearn_recs._retrieval): the graph is rebuilt from
# the validated vectors at load, so only its settings are stored.
_RETRIEVAL = {"retrieval?": ("U", (), "dense"),
              **{f"hnsw_{name}?": ("iu", (), "dense") for name in _RETRIEVAL_LIMITS},
              "hnsw_n_jobs?": ("iu", (), "dense")}
#: Members of each estimator family (the file's ``kind``), beyond the common ones.
FAMILIES = {
    "factors": {
        "user_factors": (_FLOAT, ("U", "k"), "dense"),
        "item_factors": (_FLOAT, ("I", "k"), "dense"),
        "item_bias": (_FLOAT, ("I",), "dense"),
        "user_offset": (_FLOAT, ("U",), "dense"),
        "rating_range?": (_FLOAT, (2,), "dense"),
        **_RETRIEVAL,
    },
    "two_tower": {
        "user_vectors": (_FLOAT, ("U", "k"), "dense"),
        "item_vectors": (_FLOAT, ("I", "k"), "dense"),
        "temperature": (_FLOAT, (), "dense"),
        **_RETRIEVAL,
    },
    "product": {
        "left": (_FLOAT, ("U", "k"), "any"),
        "right": (_FLOAT, ("I", "k"), "any"),
        "user_offset?": (_FLOAT, ("U",), "dense"),
        "item_offset?": (_FLOAT, ("I",), "dense"),
        "scale?": (_FLOAT, (), "dense"),
        "factor_path?": ("b", (), "dense"),
        "similar?": ("U", (), "dense"),
        "feature_names?": ("U", ("k",), "dense"),
    },
}
_SIMILAR = ("right_rows", "right_columns")


def _fail(member, problem):
    raise InvalidFileError(f"load_npz: member {member!r}: {problem}")


# -- stage 1 and 2: the zip directory and the .npy headers -------------------------
def _file_size(file):
    if isinstance(file, (str, os.PathLike)):
        return os.path.getsize(file)
    position = file.tell()
    size = file.seek(0, os.SEEK_END)
    file.seek(position)
    return size


def _header(archive, info):
    """``(dtype, shape, fortran_order, header_bytes)`` of a member, data left compressed."""
    member = info.filename[:-4]
    if info.flag_bits & 0x1:
        _fail(member, "is encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        _fail(member, f"uses zip compression method {info.compress_type}; only stored "
                      "and deflated members are read.")
    try:
        with archive.open(info) as stream:
            version = npy_format.read_magic(stream)
            read = {(1, 0): npy_format.read_array_header_1_0,
                    (2, 0): npy_format.read_array_header_2_0}.get(version)
            if read is None:
                _fail(member, f"has .npy format version {version}; 1.0 and 2.0 are read.")
            shape, fortran_order, dtype = read(stream, max_header_size=_MAX_HEADER_BYTES)
            header_bytes = stream.tell()
    except InvalidFileError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any malformed header is the file's fault
        _fail(member, f"has no valid .npy header ({type(exc).__name__}: {exc}).")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        _fail(member, f"has dtype {dtype}; only plain numbers and unicode strings are "
                      "read (Python objects would need pickle).")
    if dtype.kind not in "biufU" or dtype.itemsize == 0:
        _fail(member, f"has unsupported dtype {dtype}.")
    if any(n < 0 for n in shape):
        _fail(member, f"declares a negative shape {shape}.")
    declared = header_bytes + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared != info.file_size:
        _fail(member, f"declares shape {shape} of {dtype} ({declared} bytes with its "
                      f"header), but its zip entry holds {info.file_size} bytes; the file "
                      "is truncated or forged.")
    return dtype, tuple(int(n) for n in shape), fortran_order, header_bytes


def _read_array(archive, info, header):
    """Decompress one member into an array of exactly its declared size."""
    member = info.filename[:-4]
    dtype, shape, fortran_order, header_bytes = header
    array = np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
    view = memoryview(array.reshape(-1, order="A").view(np.uint8)) if array.size else None
    try:
        with archive.open(info) as stream:
            stream.read(header_bytes)
            filled = 0
            while view is not None and filled < len(view):
                n = stream.readinto(view[filled:filled + _READ_CHUNK])
                if not n:
                    _fail(member, f"ends after {filled} of its {len(view)} data bytes "
                                  "(truncated).")
                filled += n
            if stream.read(1):
                _fail(member, "holds more data than its header declares.")
    except InvalidFileError:
        raise
    except Exception as exc:  # noqa: BLE001 -- zlib errors, CRC mismatches, short reads
        _fail(member, f"cannot be decompressed ({type(exc).__name__}: {exc}).")
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


# -- stage 3: the allow-list -------------------------------------------------------
def _allowed(kind):
    """``{member name in the file: (spec, optional)}`` of a family."""
    allowed = {}
    for name, spec in {**_COMMON, **FAMILIES[kind]}.items():
        optional = name.endswith("?")
        name = name.rstrip("?")
        kinds, shape, storage = spec
        if storage in ("dense", "any"):
            allowed[name] = (spec, optional)
        if storage in ("sparse", "any"):
            for part in CSR_PARTS:
                allowed[f"{name}{SEP}{part}"] = (spec, optional)
    return allowed


def _check_members(headers, kind):
    """Every member allowed, every required one present, dense xor sparse."""
    allowed = _allowed(kind)
    for member in headers:
        if member not in allowed:
            _fail(member, f"is not a member of a {kind!r} export (allowed: "
                          f"{sorted(allowed)}); the file was not read further.")
    for name, spec in {**_COMMON, **FAMILIES[kind]}.items():
        optional, name = name.endswith("?"), name.rstrip("?")
        parts = [f"{name}{SEP}{part}" for part in CSR_PARTS]
        dense, sparse = name in headers, [p in headers for p in parts]
        if any(sparse) and not all(sparse):
            missing = [p for p, present in zip(parts, sparse) if not present]
            _fail(name, f"is a sparse matrix without its parts {missing}.")
        if dense and any(sparse):
            _fail(name, "is stored both dense and sparse.")
        if not optional and not dense and not any(sparse):
            _fail(name, f"is missing; a {kind!r} export needs it.")


def _dims(headers):
    """Numbers of users and items, from the declared shapes of the vocabularies."""
    dims = {}
    for name, letter in (("users", "U"), ("items", "I")):
        shape = headers[name][1]
        if len(shape) != 1:
            _fail(name, f"must be 1-D ids, has shape {shape}.")
        dims[letter] = shape[0]
    return dims


def _bind(member, expected, actual, dims):
    """Match a shape against its spec, binding the shared inner dimensions."""
    if len(expected) != len(actual):
        _fail(member, f"has {len(actual)} dimensions, expected {len(expected)} "
                      f"{_describe(expected)}.")
    for want, got in zip(expected, actual):
        want = dims.setdefault(want, got) if isinstance(want, str) else want
        if want != got:
            _fail(member, f"has shape {actual}, expected {_describe(expected, dims)}.")


def _describe(shape, dims=None):
    names = {"U": "n_users", "I": "n_items"}
    return "(" + ", ".join(
        str(dims[n]) if dims and n in dims else names.get(n, str(n)) for n in shape) + ")"


def _check_headers(headers, kind):
    """Dtypes and shapes of every member against the family's allow-list."""
    allowed = _allowed(kind)
    dims = _dims(headers)
    sparse_dims = {}
    for member, (dtype, shape, _, _) in headers.items():
        (kinds, expected, _), _ = allowed[member]
        name, sep, part = member.rpartition(SEP)
        if not sep or part not in CSR_PARTS:
            if dtype.kind not in kinds:
                _fail(member, f"has dtype {dtype}, expected kind {kinds!r}.")
            _bind(member, expected, shape, dims)
        elif part == "data":
            if dtype.kind not in kinds:
                _fail(member, f"has dtype {dtype}, expected kind {kinds!r}.")
            if len(shape) != 1:
                _fail(member, f"must be 1-D, has shape {shape}.")
        elif dtype.kind not in "iu" or len(shape) != 1:
            _fail(member, f"must be a 1-D integer array, has {dtype} of shape {shape}.")
        elif part == "shape" and shape != (2,):
            _fail(member, f"must hold 2 numbers, has shape {shape}.")
        elif part == "indptr":
            n_rows = expected[0] if isinstance(expected[0], int) else dims[expected[0]]
            if shape[0] != n_rows + 1:
                _fail(member, f"has {shape[0]} entries, expected n_rows + 1 = {n_rows + 1}.")
        if sep and part in CSR_PARTS:
            sparse_dims.setdefault(name, expected)
    lengths = {}
    for member, (_, shape, _, _) in headers.items():
        name, sep, part = member.rpartition(SEP)
        if sep and part in ("data", "indices"):
            if lengths.setdefault(name, shape[0]) != shape[0]:
                _fail(member, f"has {shape[0]} entries but {name}{SEP}data / indices "
                              f"has {lengths[name]}.")
    return dims, sparse_dims


# -- stage 4: the values -----------------------------------------------------------
def _check_finite(member, array):
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        _fail(member, "holds NaN or infinite values.")


def _check_ids(member, ids):
    _check_finite(member, ids)
    if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
        _fail(member, "must be unique ids in increasing order (as save_npz writes them).")


def _check_sparse(name, flat, expected, dims):
    data, indices, indptr, shape = (flat[f"{name}{SEP}{p}"] for p in CSR_PARTS)
    for want, got in zip(expected, shape.tolist()):
        if isinstance(want, str):
            dims.setdefault(want, got)  # an inner dimension first seen here
    n_rows, n_cols = (n if isinstance(n, int) else dims[n] for n in expected)
    if shape.tolist() != [n_rows, n_cols]:
        _fail(f"{name}{SEP}shape", f"is {shape.tolist()}, expected [{n_rows}, {n_cols}].")
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or indptr[-1] != len(indices):
        _fail(f"{name}{SEP}indptr", f"must start at 0, never decrease and end at the "
                                    f"number of stored values ({len(indices)}).")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_cols):
        _fail(f"{name}{SEP}indices", f"holds column indices outside [0, {n_cols}): "
                                     f"{indices.min()} to {indices.max()}.")
    _check_finite(f"{name}{SEP}data", data)


def _check_retrieval(flat):
    """The retrieval settings: all or none of them, each within its range."""
    names = [f"hnsw_{name}" for name in _RETRIEVAL_LIMITS]
    present = [name for name in ["retrieval", *names, "hnsw_n_jobs"] if name in flat]
    if not present:
        return
    if "retrieval" not in flat or str(flat["retrieval"]) != "hnsw":
        _fail("retrieval", f"must be 'hnsw' with the members {names}, is "
                           f"{str(flat['retrieval']) if 'retrieval' in flat else None!r}.")
    for name, (low, high) in _RETRIEVAL_LIMITS.items():
        member = f"hnsw_{name}"
        if member not in flat:
            _fail(member, "is missing; retrieval 'hnsw' needs it.")
        if not low <= int(flat[member]) <= high:
            _fail(member, f"must be in [{low}, {high}], is {int(flat[member])}.")
    if "hnsw_n_jobs" in flat:  # optional: the threads of a multi-threaded build
        low, high = _N_JOBS_LIMITS
        if not (low <= int(flat["hnsw_n_jobs"]) <= high and int(flat["hnsw_n_jobs"]) != 0):
            _fail("hnsw_n_jobs", f"must be a non-zero int in [{low}, {high}], is "
                                 f"{int(flat['hnsw_n_jobs'])}.")


def _check_values(flat, kind, dims, sparse_dims):
    for member, array in flat.items():
        _check_finite(member, array)
    _check_ids("users", flat["users"])
    _check_ids("items", flat["items"])
    for name, expected in sparse_dims.items():
        _check_sparse(name, flat, expected, dims)
    if "temperature" in flat and not flat["temperature"] > 0:
        _fail("temperature", f"must be positive, is {flat['temperature']}.")
    if "rating_range" in flat and not flat["rating_range"][0] <= flat["rating_range"][1]:
        _fail("rating_range", f"must be (low, high), is {flat['rating_range'].tolist()}.")
    _check_retrieval(flat)
    if "similar" in flat:
        if str(flat["similar"]) not in _SIMILAR:
            _fail("similar", f"is {str(flat['similar'])!r}, expected one of {_SIMILAR}.")
        if dims.get("k") != dims["I"]:
            _fail("right", f"has {dims.get('k')} columns; as item similarities "
                           f"('similar') it needs n_items = {dims['I']}.")


# -- the reader --------------------------------------------------------------------
def _read_header_members(archive, infos, headers, format_name, max_version):
    small = {}
    for name in _HEADER_MEMBERS:
        if name not in headers:
            _fail(name, f"is missing: this file is not a recommender exported by "
                        f"sklearn_recs.serving.save_npz (it has no 'format' entry "
                        f"{format_name!r}); keys found: {sorted(headers)[:10]}.")
        dtype, shape = headers[name][:2]
        if shape != () or dtype.kind not in _COMMON[name][0]:
            _fail(name, f"must be a scalar of kind {_COMMON[name][0]!r}, has {dtype} "
                        f"of shape {shape}.")
        small[name] = _read_array(archive, infos[name], headers[name])
    if str(small["format"]) != format_name:
        _fail("format", f"is {str(small['format'])!r}: this file is not a recommender "
                        f"exported by sklearn_recs.serving.save_npz (it has no 'format' "
                        f"entry {format_name!r}).")
    version = int(small["format_version"])
    if version > max_version:
        raise InvalidFileError(
            f"load_npz: the file has format version {version}, but this version of "
            f"sklearn_recs reads versions up to {max_version}. Upgrade sklearn_recs "
            "to load it.")
    if version < 1:
        _fail("format_version", f"is {version}; versions start at 1.")
    kind = str(small["kind"])
    if kind not in FAMILIES:
        _fail("kind", f"the file's scoring formula {kind!r} is unknown to this version "
                      f"of sklearn_recs (known: {sorted(FAMILIES)}); upgrade sklearn_recs "
                      "to load it.")
    return small, kind


def read_export(file, *, format_name, max_version, max_bytes=None):
    """Read and validate an export, returning its members as plain arrays.

    Parameters
    ----------
    file : str, path or file-like
        The ``.npz`` file.
    format_name : str
        The value the ``format`` member must hold.
    max_version : int
        Newest format version read.
    max_bytes : int, default=None
        Most bytes the members may take once decompressed, checked against
        the sizes their headers declare before anything is decompressed.
        None: 64 times the file's size plus 64 MiB.

    Returns
    -------
    flat : dict of str to ndarray
        Every member, validated; sparse matrices as their CSR parts.

    Raises
    ------
    sklearn_recs.exceptions.InvalidFileError
        Naming the member and the problem, at the first violation.
    """
    if max_bytes is None:
        try:
            max_bytes = _DEFAULT_RATIO * _file_size(file) + _DEFAULT_FLOOR
        except (OSError, AttributeError, ValueError):
            max_bytes = _DEFAULT_FLOOR
    try:
        archive = zipfile.ZipFile(file)
    except Exception as exc:  # noqa: BLE001 -- whatever the bytes, a clear error
        raise InvalidFileError(
            f"load_npz: the file is not a valid .npz (zip) archive ({exc}).") from exc
    with archive:
        infos = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                _fail(info.filename, "is not a .npy array; an export holds only arrays.")
            name = info.filename[:-4]
            if name in infos:
                _fail(name, "appears twice in the archive.")
            infos[name] = info
        headers = {name: _header(archive, info) for name, info in infos.items()}
        total = sum(info.file_size for info in infos.values())
        if total > max_bytes:
            raise InvalidFileError(
                f"load_npz: the members declare {total} bytes once decompressed, more than "
                f"the cap max_bytes={max_bytes} (by default 64 times the file's size plus "
                "64 MiB; larger ratios are decompression bombs). If you trust the file, "
                "pass a larger max_bytes.")
        small, kind = _read_header_members(archive, infos, headers, format_name, max_version)
        _check_members(headers, kind)
        dims, sparse_dims = _check_headers(headers, kind)
        flat = {name: small.get(name) if name in small else
                _read_array(archive, infos[name], headers[name]) for name in infos}
    _check_values(flat, kind, dims, sparse_dims)
    return flat
