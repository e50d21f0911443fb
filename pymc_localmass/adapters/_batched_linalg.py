"""Batched Cholesky and triangular solves for the model's density under PyTensor 2.x.

PyTensor 2.x vectorises ``Cholesky`` and ``SolveTriangular`` over a batch of
points as ``Blockwise`` ops that call LAPACK once per point in a Python loop:
an LKJ covariance's density at 4,096 points took 0.7 s (PyTensor 3.x, which
compiles the loop, 0.03 s). NumPy factors a whole batch in one call, and a
triangular system of ``m`` rows is ``m`` vectorised substitution steps. The
ops here do that, with the core ops' conventions: a matrix that is not
positive definite gives a NaN factor, a singular triangular system a NaN
solution (the density then reads ``-inf`` or NaN at that point only).

They are used only to replace those Blockwise nodes in the graphs
:class:`~pymc_localmass.adapters.model_density.ModelLogDensity` compiles
under PyTensor 2.x (no gradients are taken of them).
"""

import numpy as np
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor import as_tensor_variable
from pytensor.tensor.type import TensorType

__all__ = ["BatchedCholesky", "BatchedSolveTriangular", "batched_cholesky", "batched_solve_triangular"]


def batched_cholesky(x, lower=True):
    """Cholesky factors of the matrices ``x`` (..., m, m); NaN where one is not positive definite.

    Reads the lower triangle (``lower``) or the upper one, as LAPACK's ``potrf`` does.

    Examples
    --------
    >>> a = np.array([[[4.0, 2.0], [2.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]]])
    >>> L = batched_cholesky(a)
    >>> np.allclose(L[0] @ L[0].T, a[0]), bool(np.isnan(L[1]).all())
    (True, True)
    """
    x = np.asarray(x, dtype=float)
    a = x if lower else np.swapaxes(x, -1, -2)
    try:
        out = np.linalg.cholesky(a)
        bad = ~np.isfinite(out).all(axis=(-1, -2))
    except np.linalg.LinAlgError:  # (some matrices are not positive definite: one by one)
        out = np.empty_like(a)
        bad = np.zeros(a.shape[:-2], bool)
        for idx in np.ndindex(*a.shape[:-2]):
            try:
                out[idx] = np.linalg.cholesky(a[idx])
            except np.linalg.LinAlgError:
                bad[idx] = True
    out[bad] = np.nan
    return out if lower else np.swapaxes(out, -1, -2)


def batched_solve_triangular(A, b, lower=True, unit_diagonal=False, b_ndim=1):
    """``x`` with ``A x = b`` for triangular ``A`` (..., m, m), batch dimensions broadcast.

    ``b`` is (..., m) (``b_ndim=1``) or (..., m, k); a system with a zero on
    ``A``'s diagonal gives NaN, as LAPACK's ``trtrs`` reports it singular.

    Examples
    --------
    >>> A = np.array([[2.0, 0.0], [1.0, 4.0]])
    >>> batched_solve_triangular(A, np.array([[2.0, 9.0], [4.0, 6.0]])).tolist()
    [[1.0, 2.0], [2.0, 1.0]]
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    if b_ndim == 1:
        b = b[..., None]
    m = A.shape[-1]
    batch = np.broadcast_shapes(A.shape[:-2], b.shape[:-2])
    A = np.broadcast_to(A, batch + A.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    x = np.empty(batch + b.shape[-2:])
    diag = np.ones(batch + (m,)) if unit_diagonal else np.diagonal(A, axis1=-2, axis2=-1)
    order = range(m) if lower else range(m - 1, -1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in order:
            done = slice(0, i) if lower else slice(i + 1, m)
            s = b[..., i, :] - np.einsum("...j,...jk->...k", A[..., i, done], x[..., done, :])
            x[..., i, :] = s / diag[..., i, None]
    x[(diag == 0).any(axis=-1)] = np.nan
    return x[..., 0] if b_ndim == 1 else x


class BatchedCholesky(Op):
    """``batched_cholesky`` as a PyTensor op (the output's type is the input's)."""

    __props__ = ("lower",)

    def __init__(self, lower=True):
        self.lower = bool(lower)

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = batched_cholesky(inputs[0], self.lower).astype(node.outputs[0].dtype, copy=False)

    def infer_shape(self, *args):  # (fgraph, node, shapes); PyTensor 3.x drops fgraph
        return [args[-1][0]]


class BatchedSolveTriangular(Op):
    """``batched_solve_triangular`` as a PyTensor op; its output type is given (the node it replaces)."""

    __props__ = ("lower", "unit_diagonal", "b_ndim", "out_type")

    def __init__(self, out_type, lower=True, unit_diagonal=False, b_ndim=1):
        self.out_type = TensorType(out_type.dtype, shape=out_type.shape)
        self.lower, self.unit_diagonal, self.b_ndim = bool(lower), bool(unit_diagonal), int(b_ndim)

    def make_node(self, A, b):
        return Apply(self, [as_tensor_variable(A), as_tensor_variable(b)], [self.out_type()])

    def perform(self, node, inputs, outputs):
        x = batched_solve_triangular(*inputs, lower=self.lower, unit_diagonal=self.unit_diagonal, b_ndim=self.b_ndim)
        outputs[0][0] = np.asarray(x, dtype=self.out_type.dtype)
