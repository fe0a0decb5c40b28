"""Compiled kernels of SparseEASE: the Gram matrix, and one ridge system per item.

:func:`solve_neighbourhoods` goes item by item through a dense Gram matrix:
it selects the item's neighbours, gathers their small ridge system and
solves it by a Cholesky factorisation (LAPACK), in one loop, so that there is neither a
Python-level loop over the items nor a temporary larger than one system.
"""

import numba
import numpy as np

from ._lapack import cholesky_solve
from ._sparse_topk import _select

# Side of the square blocks the Gram matrix is mirrored in.
_MIRROR_BLOCK = 64
# Bits of a positive float32 kept as its histogram bin: the exponent and 3
# bits of the mantissa (the bins order the values, 2**11 of them).
_BIN_SHIFT = 20
_N_BINS = 2**11
# Bit pattern of float32 +inf: positive floats (and +inf) are 1 .. this.
_POSITIVE_INF = 0x7F800000


@numba.njit(nogil=True, cache=True)
def scatter_gram(indptr, indices, data, gram):
    """``gram += X.T @ X`` for the CSR matrix X (sorted indices): each row's pairs of entries.

    Faster than a sparse-dense product when rows are short against the
    number of columns (ml-100k: 6.7M products for 1.4M outputs). The lower
    triangle is summed (each entry over its rows in ascending order), then
    mirrored, so ``gram`` is exactly symmetric.
    """
    for row in range(len(indptr) - 1):
        start = indptr[row]
        for p in range(start, indptr[row + 1]):
            weight = data[p]
            out = gram[indices[p]]
            for q in range(start, p + 1):
                out[indices[q]] += weight * data[q]
    n = gram.shape[0]
    for rows in range(0, n, _MIRROR_BLOCK):  # (square blocks: cache-friendly reads)
        for columns in range(0, rows + 1, _MIRROR_BLOCK):
            for i in range(rows, min(rows + _MIRROR_BLOCK, n)):
                for j in range(columns, min(columns + _MIRROR_BLOCK, i)):
                    gram[j, i] = gram[i, j]


@numba.njit(nogil=True, cache=True)
def _top_positive(bits, skip, width, histogram, edge_bits, scratch, out):
    """The columns of the ``width`` largest positive entries of a float32 row, in column order.

    ``bits``: the row viewed as uint32 (for positive floats, the order of the
    bit patterns is that of the values); column ``skip`` is left out. Equal
    entries: the lower columns first. Returns how many were written to
    ``out`` (fewer than ``width`` where the row has fewer positive entries).

    A radix selection: one pass counts the entries per bin of their top
    bits, which locates the bin of the ``width``-th largest; only that
    bin's entries are then ranked (quickselect), and a last pass writes the
    chosen columns in order.
    """
    n = bits.shape[0]
    histogram[:] = 0
    total = 0
    for column in range(n):
        value = bits[column]
        if 0 < value <= _POSITIVE_INF and column != skip:
            histogram[value >> _BIN_SHIFT] += 1
            total += 1
    # Taken: the entries above ``threshold``, then ``ties`` of those equal to it.
    threshold, ties = 0, 0  # (fewer than width: every positive entry)
    if total > width:
        edge, above = _N_BINS - 1, 0  # the bin of the width-th largest; entries above it
        while above + histogram[edge] < width:
            above += histogram[edge]
            edge -= 1
        in_edge = 0
        for column in range(n):
            value = bits[column]
            if value >> _BIN_SHIFT == edge and 0 < value <= _POSITIVE_INF and column != skip:
                edge_bits[in_edge] = value
                in_edge += 1
        scratch[:in_edge] = edge_bits[:in_edge]
        threshold = _select(scratch, in_edge, in_edge - (width - above))
        ties = width - above
        for value in edge_bits[:in_edge]:
            ties -= value > threshold
    size = 0
    for column in range(n):
        value = bits[column]
        if value <= _POSITIVE_INF and column != skip and (
                value > threshold or (value == threshold and ties > 0)):
            ties -= value == threshold
            out[size] = column
            size += 1
    return size


@numba.njit(nogil=True, cache=True)
def solve_neighbourhoods(gram, diagonal, popular, alpha, neighbours, coef):
    """Every item's neighbourhood and ridge solution, from the whole dense Gram matrix.

    Item ``j``'s neighbours (written to ``neighbours[j]``) are its
    ``width`` largest positive co-occurrences ``gram[j]`` (equal ones: the
    lower code first), in code order, then the most ``popular`` other
    items; ``coef[j]`` solves ``(G[N, N] + alpha I) b = G[N, j]`` with
    ``diagonal`` as the diagonal of ``G``. ``gram``: float32, C-ordered.
    Returns 0, or the LAPACK info of the first system that is not
    positive definite.
    """
    n_items, width = neighbours.shape
    bits = gram.view(np.uint32)
    histogram = np.empty(_N_BINS, dtype=np.int64)
    edge_bits = np.empty(n_items, dtype=np.uint32)
    scratch = np.empty(n_items, dtype=np.uint32)
    taken = np.zeros(n_items, dtype=np.bool_)
    system = np.empty((width, width), dtype=coef.dtype)
    for item in range(n_items):
        chosen = neighbours[item]
        size = _top_positive(bits[item], item, width, histogram, edge_bits, scratch, chosen)
        if size < width:
            taken[item] = True
            taken[chosen[:size]] = True
            for candidate in popular:
                if size == width:
                    break
                if not taken[candidate]:
                    chosen[size] = candidate
                    size += 1
            taken[item] = False
            taken[chosen] = False
        rhs = coef[item]
        for r in range(width):
            row = gram[chosen[r]]
            for c in range(r):  # (the solve reads the lower triangle)
                system[r, c] = row[chosen[c]]
            system[r, r] = diagonal[chosen[r]] + alpha
            rhs[r] = row[item]
        info = cholesky_solve(system, rhs)
        if info:
            return info
    return 0


@numba.njit(nogil=True, cache=True)
def cholesky_solve_each(lhs, rhs):
    """``cholesky_solve`` of each ``lhs[t], rhs[t]`` (lower triangles read); the first failure's info."""
    for t in range(lhs.shape[0]):
        info = cholesky_solve(lhs[t], rhs[t])
        if info:
            return info
    return 0
