"""LAPACK's Cholesky solver ``posv``, callable from numba-compiled loops.

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


def _bind(name):
    """numba's handle on ``scipy.linalg.cython_lapack.<name>`` (8 pointer arguments)."""
    symbol = f"sklearn_recs_lapack_{name}"
    llvm.add_symbol(symbol, get_cython_function_address("scipy.linalg.cython_lapack", name))
    return types.ExternalFunction(symbol, types.void(*[types.voidptr] * 8))


_SPOSV = _bind("sposv")
_DPOSV = _bind("dposv")


@numba.njit(nogil=True, cache=True)
def posv(matrix, rhs):
    """Solve ``matrix @ x = rhs`` in place for a symmetric positive definite matrix.

    ``matrix``: C-ordered ``(n, n)`` float32 or float64, of which only the
    lower triangle is read; it is overwritten by its Cholesky factor.
    ``rhs``: contiguous ``(n,)`` of the same dtype, overwritten by ``x``.
    Returns LAPACK's ``info``: 0, or ``i > 0`` where the leading minor of
    order ``i`` is not positive definite.
    """
    sizes = np.array([matrix.shape[0], 1, 0], dtype=np.int32)  # n, nrhs, info
    # A C-ordered matrix is its transpose in Fortran order: its upper triangle.
    upper = np.array([ord("U")], dtype=np.uint8)
    n, nrhs, info = sizes[0:1], sizes[1:2], sizes[2:3]
    if matrix.itemsize == 4:
        _SPOSV(upper.ctypes, n.ctypes, nrhs.ctypes, matrix.ctypes, n.ctypes, rhs.ctypes,
               n.ctypes, info.ctypes)
    else:
        _DPOSV(upper.ctypes, n.ctypes, nrhs.ctypes, matrix.ctypes, n.ctypes, rhs.ctypes,
               n.ctypes, info.ctypes)
    return info[0]
