"""Extended-real arithmetic: weights in R together with +inf and -inf.

Owns the rules the shallow network is evaluated by (``0 * inf = 0``,
``relu(-inf) = 0``, never ``inf - inf``: :class:`ExtendedRealError`) and the
sparse layer that applies them (:class:`ExtLinear`, :func:`ext_affine`).
Plain numpy would give ``0 * inf = nan``. Knows nothing of catalogues.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ShallowReLUError


class ExtendedRealError(ShallowReLUError, ArithmeticError):
    """An evaluation would form ``inf - inf``, which the construction never should."""



class ExtLinear:
    """A sparse weight matrix with entries in the extended reals, ready to apply many times.

    Rows with the same positions of ``+inf`` and ``-inf`` (a gate's ``2m``
    layer-2 neurons) are grouped, so the infinite part is decided once per
    group; the finite part is a dense product over the columns it uses.
    """

    def __init__(self, W: sp.spmatrix) -> None:
        W = sp.csr_matrix(W)
        self.W = W
        self.shape = W.shape
        w = W.data
        finite = W.copy()
        finite.data = np.where(np.isfinite(w), w, 0.0)
        finite.eliminate_zeros()
        self.cols = np.unique(finite.indices)
        self.dense = finite[:, self.cols].toarray()
        rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
        inf = ~np.isfinite(w)
        keys = {}
        group = np.empty(W.shape[0], dtype=np.int64)
        for r in range(W.shape[0]):
            lo, hi = W.indptr[r], W.indptr[r + 1]
            sel = inf[lo:hi]
            key = (W.indices[lo:hi][sel].tobytes(), np.sign(w[lo:hi][sel]).tobytes())
            group[r] = keys.setdefault(key, len(keys))
        first = np.zeros(len(keys), dtype=np.int64)
        first[group[::-1]] = np.arange(W.shape[0])[::-1]
        self.group = group
        sel = inf & np.isin(rows, first)
        grp_of_row = np.full(W.shape[0], -1)
        grp_of_row[first] = np.arange(len(keys))
        r_, c_, v_ = grp_of_row[rows[sel]], W.indices[sel], w[sel]
        shape = (len(keys), W.shape[1])
        self.plus_inf = sp.csr_matrix((np.ones(np.count_nonzero(v_ > 0)), (r_[v_ > 0], c_[v_ > 0])), shape=shape)
        self.minus_inf = sp.csr_matrix((np.ones(np.count_nonzero(v_ < 0)), (r_[v_ < 0], c_[v_ < 0])), shape=shape)

    def apply(self, b: np.ndarray, H: np.ndarray) -> np.ndarray:
        """``H @ W.T + b`` in extended-real arithmetic (docs/design.md section 2).

        ``0 * (+-inf) = 0``; ``a * inf`` is ``+-inf`` by the sign of ``a != 0``;
        ``inf + finite = inf``.

        Raises
        ------
        ExtendedRealError
            Where a sum would meet both ``+inf`` and ``-inf``.
        """
        all_finite = bool(np.isfinite(H).all())
        Hc = H[:, self.cols] if self.cols.size < H.shape[1] else H
        out = (Hc if all_finite else np.where(np.isfinite(Hc), Hc, 0.0)) @ self.dense.T + b
        plus = minus = None
        if self.plus_inf.nnz or self.minus_inf.nnz:
            counts = {}
            for name, mask in (("pos", H > 0), ("neg", H < 0)):
                if mask.any():
                    m = mask.T.astype(np.float64)
                    counts[name] = [np.asarray(M @ m).T if M.nnz else None
                                    for M in (self.plus_inf, self.minus_inf)]
            # +inf * positive and -inf * negative give +inf; the mixed pairs give -inf.
            pos, neg = counts.get("pos", [None, None]), counts.get("neg", [None, None])
            plus = _any_positive(pos[0], neg[1])
            minus = _any_positive(pos[1], neg[0])
            plus = None if plus is None else plus[:, self.group]
            minus = None if minus is None else minus[:, self.group]
        if not all_finite:
            # Non-zero weight times infinite activation.
            w_pos, w_neg = self.W.copy(), self.W.copy()
            w_pos.data = (self.W.data > 0).astype(np.float64)
            w_neg.data = (self.W.data < 0).astype(np.float64)
            hp, hn = (H == np.inf).astype(np.float64), (H == -np.inf).astype(np.float64)
            more_plus = np.asarray((w_pos @ hp.T + w_neg @ hn.T).T) > 0
            more_minus = np.asarray((w_pos @ hn.T + w_neg @ hp.T).T) > 0
            plus = more_plus if plus is None else plus | more_plus
            minus = more_minus if minus is None else minus | more_minus
        if plus is None and minus is None:
            return out
        plus = np.zeros(out.shape, dtype=bool) if plus is None else plus
        minus = np.zeros(out.shape, dtype=bool) if minus is None else minus
        if np.any(plus & minus):
            k, j = np.argwhere(plus & minus)[0]
            raise ExtendedRealError(f"inf - inf in neuron {j} at point {k}")
        np.copyto(out, np.inf, where=plus)
        np.copyto(out, -np.inf, where=minus)
        return out


def _any_positive(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Where either count is positive (None when both are absent)."""
    if a is None and b is None:
        return None
    total = (0 if a is None else a) + (0 if b is None else b)
    return total > 0


def ext_affine(W: sp.spmatrix | np.ndarray, b: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``H @ W.T + b`` in extended-real arithmetic; see :meth:`ExtLinear.apply`.

    Parameters
    ----------
    W : ndarray or scipy sparse matrix, shape (out, in)
        Weights, possibly ``+-inf``.
    b : ndarray, shape (out,)
    H : ndarray, shape (k, in)
        Inputs, possibly ``+-inf``.

    Returns
    -------
    ndarray, shape (k, out)

    Raises
    ------
    ExtendedRealError
        Where a sum would be ``inf - inf``."""
    return ExtLinear(sp.csr_matrix(W)).apply(np.asarray(b, dtype=np.float64), np.atleast_2d(H))

