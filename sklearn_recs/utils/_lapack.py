"""A Cholesky solve of small systems, callable from numba-compiled loops.

A loop over many small systems (SparseEASE solves one per item) spends as
much time in Python-level calls of scipy's wrappers as in LAPACK itself.
scipy exports its LAPACK as Cython functions; their addresses are registered
with LLVM under symbol names of our own, so that numba kernels call them
directly, and are cached like any other kernel (a ctypes pointer would make
them uncacheable). The LAPACK is scipy's, so ``threadpoolctl`` limits it.
"""

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address


def _bind(name, n_arguments):
    """numba's handle on ``scipy.linalg.cython_lapack.<name>`` (pointer arguments)."""
    symbol = f"sklearn_recs_lapack_{name}"
    llvm.add_symbol(symbol, get_cython_function_address("scipy.linalg.cython_lapack", name))
    return types.ExternalFunction(symbol, types.void(*[types.voidptr] * n_arguments))


# The unblocked Cholesky factorisation, then the triangular solves below:
# on ml-100k's 1,650 systems of 100 x 100 (scipy's OpenBLAS, one thread),
# potf2 took 42 ms against 54 ms for the blocked potrf, and posv (potrf,
# then potrs's two trsv calls) 68 ms.
_SPOTF2 = _bind("spotf2", 5)
_DPOTF2 = _bind("dpotf2", 5)


@numba.njit(nogil=True, cache=True)
def cholesky_solve(matrix, rhs):
    """Solve ``matrix @ x = rhs`` in place for a symmetric positive definite matrix.

    ``matrix``: C-ordered ``(n, n)`` float32 or float64, of which only the
    lower triangle is read; it is overwritten by its Cholesky factor ``L``
    (``matrix = L L^T``). ``rhs``: contiguous ``(n,)`` of the same dtype,
    overwritten by ``x``. Returns LAPACK's ``info``: 0, or ``i > 0`` where
    the leading minor of order ``i`` is not positive definite.
    """
    n = matrix.shape[0]
    sizes = np.array([n, 0], dtype=np.int32)  # n, info
    # A C-ordered matrix is its transpose in Fortran order: its upper triangle.
    upper = np.array([ord("U")], dtype=np.uint8)
    size, info = sizes[0:1], sizes[1:2]
    if matrix.itemsize == 4:
        _SPOTF2(upper.ctypes, size.ctypes, matrix.ctypes, size.ctypes, info.ctypes)
    else:
        _DPOTF2(upper.ctypes, size.ctypes, matrix.ctypes, size.ctypes, info.ctypes)
    if info[0]:
        return info[0]
    for i in range(n):  # L y = rhs (rows of L: contiguous)
        row = matrix[i]
        total = rhs[i]
        for k in range(i):
            total -= row[k] * rhs[k]
        rhs[i] = total / row[i]
    for i in range(n - 1, -1, -1):  # L^T x = y, a row of L at a time
        row = matrix[i]
        rhs[i] /= row[i]
        solution = rhs[i]
        for k in range(i):
            rhs[k] -= solution * row[k]
    return 0
