"""The one backward pass every linear bound is made of (CROWN), batched over domains.

A *domain* is an input box with, for every hidden layer, bounds on its
pre-activations and (optionally) split decisions: neurons fixed to one side.
:func:`backward` bounds ``A h + c`` from below over each domain, where ``h``
is the output of a hidden layer, by carrying the coefficients back through
the layers' relaxations (:mod:`.relax`) to the input box. Split constraints
enter with multipliers (beta-CROWN): for a neuron fixed to ``s z >= 0``, any
``beta >= 0`` gives ``f >= f - beta s z`` on the domain, so ``-beta s`` is
added to the coefficient of ``z``. Every choice of lower slopes in their
range and of multipliers ``>= 0`` gives a sound bound; :mod:`.optimise`
searches for good ones with the gradient that :func:`adjoint` computes.

The wrappers: :func:`hidden_bounds` (every hidden layer's pre-activation
bounds, each from a backward pass through the layers below, kept where
tighter than interval arithmetic), :func:`box_bounds` (output rows over many
boxes), :func:`tail_bounds` (a network tail over one node of the region
search; :func:`linear_bounds` its bound alone) and :func:`layer_bounds` (a network over one box, for the MILP).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import Kinks, ReLUNetwork
from ..tolerances import ROUNDING_REL, TINY
from .interval import affine_range, boxes_range, output_range
from .relax import Relaxation, relax

Layers = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Backward:
    """A lower bound of ``A h + c`` over each of ``B`` domains, for ``r`` rows.

    Attributes
    ----------
    low : ndarray, shape (B, r)
        The bound: the minimum of ``coef . x + const`` over the domain's input box.
    coef, const : ndarray, shapes (B, r, n) and (B, r)
        The linear function of the input it is the minimum of.
    lams : list of ndarray or None
        Per hidden layer ``j``, the coefficients ``(B, r, w_j)`` on its outputs
        (kept on request, for :func:`adjoint`).
    """

    low: np.ndarray
    coef: np.ndarray
    const: np.ndarray
    lams: list | None = None


def box_min(coef: np.ndarray, const: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Minimum of ``coef . x + const`` (shapes ``(B, r, n)``, ``(B, r)``) over boxes ``(B, n)``; a zero
    coefficient against an infinite side contributes nothing."""
    B, r, n = coef.shape
    pos, neg = np.maximum(coef, 0.0), np.minimum(coef, 0.0)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        with np.errstate(invalid="ignore"):
            low = pos * lo[:, None, :] + neg * hi[:, None, :]
        return np.where(coef == 0, 0.0, low).sum(axis=2) + const
    if lo.strides[0] == 0 and hi.strides[0] == 0:  # one box shared by every domain: two matrix-vector products
        return (pos.reshape(-1, n) @ lo[0] + neg.reshape(-1, n) @ hi[0]).reshape(B, r) + const
    return np.einsum("brn,bn->br", pos, lo) + np.einsum("brn,bn->br", neg, hi) + const


def points_min(coef: np.ndarray, const: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Minimum of ``coef . x + const`` (shapes ``(B, r, n)``, ``(B, r)``) over the hull of points ``(B, P, n)``."""
    B, r, n = coef.shape
    if B == 1:
        return (coef[0] @ points[0].T).min(axis=1)[None] + const
    return np.einsum("brn,bpn->brp", coef, points).min(axis=2) + const


def backward(A: np.ndarray, c: np.ndarray, layers: Layers, relaxations: list[Relaxation], lo: np.ndarray,
             hi: np.ndarray, betas: list | None = None, keep: bool = False,
             points: np.ndarray | None = None) -> Backward:
    """Lower bound of ``A h + c`` over each domain, ``h`` the output of the last of ``layers``.

    Parameters
    ----------
    A : ndarray, shape (B, r, w) (broadcastable)
        Coefficients on the outputs of hidden layer ``len(layers) - 1``.
    c : ndarray, shape (B, r)
    layers : list of (W, b)
        The hidden layers from the input up to that one (``W`` of the first reads the input).
    relaxations : list of Relaxation
        One per layer, for the same domains.
    lo, hi : ndarray, shape (B, n)
        The input boxes.
    betas : list, optional
        Per layer None or ``(B, r|1, w)``: the split terms ``-beta s`` added to the coefficients of the
        layer's pre-activations.
    keep : bool
        Keep the coefficients of every layer (for :func:`adjoint`).
    points : ndarray, shape (B, P, n), optional
        Where each domain's input set is a polytope inside its box, its
        vertices: the bound is then the minimum over the polytope.
    """
    B = lo.shape[0]
    r = A.shape[1]
    Lam = A
    lams: list = [None] * len(layers)
    for j in range(len(layers) - 1, -1, -1):
        R = relaxations[j]
        if keep:
            lams[j] = Lam
        pos, neg = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
        Lam_z = pos * R.lo_slope + neg * R.up_slope
        c = c + np.einsum("brj,bj->br", neg, R.up_icpt[:, 0]) + np.einsum("brj,bj->br", pos, R.lo_icpt[:, 0])
        if betas is not None and betas[j] is not None:
            Lam_z = Lam_z + betas[j]
        W, b = layers[j]
        c = c + Lam_z @ b
        # one matrix product for every domain and row: (B r, width) @ (width, width below)
        Lam = (Lam_z.reshape(-1, W.shape[0]) @ W).reshape(B, r, -1)
    low = box_min(Lam, c, lo, hi) if points is None else points_min(Lam, c, points)
    return Backward(low, Lam, c, lams if keep else None)


def adjoint(bound: Backward, layers: Layers, relaxations: list[Relaxation], lo: np.ndarray,
            hi: np.ndarray) -> list[np.ndarray]:
    """The gradient of a kept :func:`backward` bound with respect to each layer's pre-activation coefficients.

    The bound is ``coef . x* + const`` at the minimising corner ``x*``; its
    derivative with respect to the coefficients of ``z_j`` is ``z_j``
    evaluated at ``x*`` through the relaxed network, each unit on the line
    its coefficient's sign chose. So the gradient is one forward pass. The
    derivative of the bound in a free unit's lower slope is then
    ``max(lam, 0) * z_j`` and in a split multiplier ``-s z_j``.

    Returns
    -------
    list of ndarray
        Per layer ``j``, ``z_j`` at the relaxed minimiser, shape ``(B, r, w_j)``.
    """
    h = np.where(bound.coef > 0, lo[:, None, :], hi[:, None, :])
    out = []
    B, r, _ = h.shape
    for j, (W, b) in enumerate(layers):
        z = (h.reshape(B * r, -1) @ W.T).reshape(B, r, -1) + b  # a stack of 3-D products is far slower
        out.append(z)
        R = relaxations[j]
        h = np.where(bound.lams[j] >= 0, R.lo_slope * z + R.lo_icpt, R.up_slope * z + R.up_icpt)
    return out


def _range(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval range of ``W h + b`` over boxes ``(B, n)``, infinite sides allowed."""
    if np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)):
        return boxes_range(W, b, lo, hi)
    return affine_range(W[None], b, lo[:, None, :], hi[:, None, :])


def unit_rows(W: np.ndarray, b: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pre-activations ``z`` of the units ``rows`` of the layer ``(W, b)``, then ``-z``: their lower
    bounds are the units' lower bounds and minus their upper bounds (:func:`tightened`)."""
    return np.vstack([W[rows], -W[rows]]), np.concatenate([b[rows], -b[rows]])


def tightened(l: np.ndarray, u: np.ndarray, rows: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``(B, w)`` with the units ``rows`` intersected with ``low`` ``(B, 2 len(rows))``, the lower
    bounds of their :func:`unit_rows`; new arrays."""
    n = rows.size
    # Rounding must never cut into the set: widen by a relative hair.
    hair = ROUNDING_REL * (1.0 + np.abs(low))
    l, u = l.copy(), u.copy()
    l[:, rows] = np.maximum(l[:, rows], low[:, :n] - hair[:, :n])
    u[:, rows] = np.minimum(u[:, rows], -low[:, n:] + hair[:, n:])
    return l, u


def apply_split(l: np.ndarray, u: np.ndarray, split: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a layer's pre-activations with split neurons fixed: ``z >= 0`` where ``split`` is 1,
    ``z <= 0`` where it is -1 (an empty domain shows as ``l > u``)."""
    if split is None:
        return l, u
    return np.where(split > 0, np.maximum(l, 0.0), l), np.where(split < 0, np.minimum(u, 0.0), u)


def hidden_bounds(layers: Layers, lo: np.ndarray, hi: np.ndarray, kinks: list[Kinks | None],
                  split: list | None = None, fixed: np.ndarray | None = None,
                  known: list | None = None,
                  points: np.ndarray | None = None) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[Relaxation]]:
    """Bounds of every hidden layer's pre-activations over ``B`` domains, and the relaxations on them.

    Layer 0's bounds are exact over the box; each later layer gets the
    better of interval arithmetic and a backward pass through the layers
    below (for the units the intervals leave unstable in some domain).
    ``known`` bounds (a parent domain's, the root's optimised ones) are
    intersected in, and ``split`` decisions applied, before a layer is relaxed.

    Parameters
    ----------
    layers : list of (W, b)
        The whole network, the output layer last.
    lo, hi : ndarray, shape (B, n)
    kinks : list of Kinks or None
        One per hidden layer.
    split : list, optional
        Per hidden layer None or ``(B, w)`` int: 1 fixed active, -1 fixed inactive, 0 free.
    fixed : ndarray, optional
        Max-group members of layer 0 already decided (:func:`.relax.relax`).
    known : list of (l, u), optional
        Per hidden layer, bounds already proven for these domains.
    points : ndarray, shape (B, P, n), optional
        The vertices of each domain's input polytope, where it is one (:func:`backward`).

    Returns
    -------
    pre : list of (l, u), each ``(B, w)``
    relaxations : list of Relaxation
    """
    pre: list = []
    relaxations: list[Relaxation] = []
    for k, (W, b) in enumerate(layers[:-1]):
        if k == 0:
            if points is None:
                l, u = _range(W, b, lo, hi)
            else:
                Z = points @ W.T + b
                l, u = Z.min(axis=1), Z.max(axis=1)
        else:
            l, u = _range(W, b, *output_range(*pre[-1], kinks[k - 1], fixed if k == 1 else None))
            if known is not None:
                l, u = np.maximum(l, known[k][0]), np.minimum(u, known[k][1])
            open_ = (l < 0) & (u > 0)
            if kinks[k] is not None:
                open_ |= kinks[k].group >= 0
            rows = np.flatnonzero(open_.any(axis=0))
            if rows.size:
                A, c = unit_rows(W, b, rows)
                B = lo.shape[0]
                both = backward(np.broadcast_to(A, (B,) + A.shape), np.broadcast_to(c, (B, c.size)),
                                layers[:k], relaxations, lo, hi, points=points).low
                l, u = tightened(l, u, rows, both)
        if k == 0 and known is not None:
            l, u = np.maximum(l, known[0][0]), np.minimum(u, known[0][1])
        l, u = apply_split(l, u, None if split is None else split[k])
        pre.append((l, u))
        relaxations.append(relax(l, u, kinks[k], fixed if k == 0 else None))
    return pre, relaxations


def output_rows(layers: Layers, C: np.ndarray, e: np.ndarray, B: int) -> tuple[np.ndarray, np.ndarray]:
    """``C y - e`` as rows on the last hidden layer's outputs: ``(A, c)`` of shapes ``(B, k, w)``, ``(B, k)``."""
    W, b = layers[-1]
    return np.broadcast_to(C @ W, (B,) + (C.shape[0], W.shape[1])), np.broadcast_to(C @ b - e, (B, C.shape[0]))


def box_bounds(layers: tuple[tuple[np.ndarray, np.ndarray], ...], lo: np.ndarray, hi: np.ndarray,
               C: np.ndarray, e: np.ndarray,
               kinks: tuple[Kinks | None, ...] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sound lower bounds of ``C y - e`` over many input boxes at once (CROWN, batched).

    Parameters
    ----------
    layers : sequence of (W, b)
        The network, the last layer without relu.
    lo, hi : ndarray, shape (B, n)
        The boxes.
    C : ndarray, shape (k, m)
    e : ndarray, shape (k,)
    kinks : sequence of Kinks or None, optional
        The kinks of the hidden layers (None: all ReLU).

    Returns
    -------
    low : ndarray, shape (B, k)
        Sound lower bounds of ``C y - e`` over each box (up to float rounding,
        which callers cover with a margin).
    coef, const : ndarray, shapes (B, k, n) and (B, k)
        The linear lower bound itself: ``C y - e >= coef . x + const`` on each
        box (``low`` is its minimum, or the interval bound where that is
        higher). How much each coordinate's width costs the bound; and,
        combined over the rows, what :func:`combined_lower` maximises.
    unstable : ndarray of int, shape (B,)
        Units whose sign the bounds leave open on each box.
    """
    layers = list(layers)
    kinks = list(kinks) if kinks is not None else [None] * (len(layers) - 1)
    B = lo.shape[0]
    pre, relaxations = hidden_bounds(layers, lo, hi, kinks)
    A, c = output_rows(layers, C, e, B)
    bound = backward(A, c, layers[:-1], relaxations, lo, hi)
    ylo, yhi = boxes_range(*layers[-1], *output_range(*pre[-1], kinks[-1]))
    interval = ylo @ np.maximum(C, 0.0).T + yhi @ np.minimum(C, 0.0).T - e
    unstable = sum(((l < 0) & (u > 0)).sum(axis=1) for l, u in pre)
    return np.maximum(bound.low, interval), bound.coef, bound.const, unstable


@dataclass(frozen=True)
class TailBound:
    """Lower bounds of ``C y - e`` over ``B`` nodes of the region search, with what they rest on.

    Attributes
    ----------
    low : ndarray, shape (B, k)
        One bound per node and row of ``C``.
    coef, const : ndarray, shapes (B, k, n) and (B, k)
        The linear lower bound of each row (CROWN's) over each node: it holds on every part of the node too.
    pre : list of (l, u)
        Bounds of the tail's hidden pre-activations over each node, each ``(B, w)``.
    """

    low: np.ndarray
    coef: np.ndarray
    const: np.ndarray
    pre: list


def tail_bounds(M: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                layers: list[tuple[np.ndarray, np.ndarray]], C: np.ndarray, e: np.ndarray,
                signs: np.ndarray | None = None, kinks: list[Kinks | None] | None = None,
                vertices: list[np.ndarray] | None = None, known: list | None = None) -> TailBound:
    """Sound lower bounds of ``C y - e`` for a network tail over ``B`` nodes at once (CROWN).

    The first pre-activation is exact and affine in the input, ``z_0 = M t +
    v``, the same map on every node (siblings of the region search), with
    ``t`` in each node's box ``[lo, hi]`` (``(B, n)``, infinite sides
    allowed); ``layers`` are the remaining ``(W, b)``, the last one the
    output layer. ``signs`` (``(B, k)`` bool) fixes the first ``k`` units of
    ``z_0`` on each node (active: ``z >= 0``, inactive: ``z <= 0``; for a max
    group, which member wins). ``kinks`` gives the kinks of the hidden
    layers from ``z_0`` on (None: all ReLU). ``vertices``, where each node
    is known as the hull of points (``(P_i, n)`` each) inside its box, make
    every bound a minimum over the node itself, not its box. ``known`` (per
    hidden layer of the tail, ``(l, u)`` broadcastable to ``(B, w)``) are
    bounds already proven on a set holding the nodes (their parent's
    ``pre``): they are intersected in, and units they show stable need no
    backward pass.
    """
    full = [(np.asarray(M, float), np.asarray(v, float))] + list(layers)
    kinks = list(kinks) if kinks is not None else [None] * (len(full) - 1)
    lo, hi = np.atleast_2d(np.asarray(lo, float)), np.atleast_2d(np.asarray(hi, float))
    B = lo.shape[0]
    split, fixed = None, None
    k = 0 if signs is None else np.shape(signs)[1]
    if k:
        s = np.asarray(signs, dtype=bool)
        member = np.zeros(k, dtype=bool) if kinks[0] is None else kinks[0].group[:k] >= 0
        first = np.zeros((B, M.shape[0]), dtype=np.int8)
        first[:, :k] = np.where(member, 0, np.where(s, 1, -1))
        split = [first] + [None] * (len(full) - 2)
        if member.any():
            fixed = np.full((B, M.shape[0]), -1)
            fixed[:, :k] = np.where(member, s.astype(int), -1)
    points = None
    if vertices is not None:  # padded with a repeated vertex, which changes no minimum
        P = max(len(V) for V in vertices)
        points = np.stack([np.concatenate([V, np.repeat(V[:1], P - len(V), axis=0)]) for V in vertices])
    pre, relaxations = hidden_bounds(full, lo, hi, kinks, split=split, fixed=fixed, points=points, known=known)
    A, c = output_rows(full, C, e, B)
    bound = backward(A, c, full[:-1], relaxations, lo, hi, points=points)
    ylo, yhi = affine_range(full[-1][0][None], full[-1][1],
                            *(r[:, None, :] for r in output_range(*pre[-1], kinks[-1],
                                                                  fixed if len(full) == 2 else None)))
    interval = affine_range(C[None], -e, ylo[:, None, :], yhi[:, None, :])[0]
    return TailBound(np.maximum(bound.low, interval), bound.coef, bound.const, pre)


def linear_bounds(M: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  layers: list[tuple[np.ndarray, np.ndarray]], C: np.ndarray, e: np.ndarray,
                  signs: list[bool] = (), kinks: list[Kinks | None] | None = None) -> np.ndarray:
    """:func:`tail_bounds`' lower bound of each row of ``C y - e`` over one box ``[lo, hi]``."""
    return tail_bounds(M, v, lo, hi, layers, C, e, np.asarray(signs, dtype=bool)[None], kinks).low[0]


def layer_bounds(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sound bounds ``(zlo, zhi)`` on every hidden layer's pre-activations over a box.

    The better of interval and backward linear (CROWN) bounds at every
    layer, so never looser than :func:`interval_bounds`.
    """
    kinks = list(net.kinks or [None] * (len(net.layers) - 1))
    pre, _ = hidden_bounds(list(net.layers), np.asarray(lo, float)[None], np.asarray(hi, float)[None], kinks)
    return [(l[0], u[0]) for l, u in pre]


def combined_lower(coef: np.ndarray, const: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   steps: int = 30) -> np.ndarray:
    """A lower bound of ``max_lambda min_x sum_i lambda_i (coef_i . x + const_i)`` over each box, lambda on the simplex.

    Where every ``coef_i . x + const_i`` bounds row ``i`` of ``C y - e``
    from below, a positive value proves that on no point of the box do all
    rows hold at once, although each row alone may: the rows are coupled
    through the same ``x`` (an output box in ``C y <= e``, which one row at a
    time never closes). The inner minimum is a box corner; lambda climbs by
    multiplicative weights on the rows' values there, and the best value met
    is returned, so any step count is sound.

    Parameters
    ----------
    coef, const : ndarray, shapes (B, k, n) and (B, k)
    lo, hi : ndarray, shape (B, n)

    Returns
    -------
    ndarray, shape (B,)
    """
    B, k, _ = coef.shape
    lam = np.full((B, k), 1.0 / k)
    best = np.full(B, -np.inf)
    scale = np.abs(coef).sum(axis=2).max(axis=1) * np.abs(hi - lo).max(axis=1) + np.abs(const).max(axis=1) + TINY
    for _ in range(steps):
        s = np.einsum("bk,bkn->bn", lam, coef)
        corner = np.where(s > 0, lo, hi)
        vals = np.einsum("bkn,bn->bk", coef, corner) + const
        np.maximum(best, (lam * vals).sum(axis=1), out=best)
        # rows that are high at the current minimiser gain weight (a step of the size of the values' range)
        lam = lam * np.exp(np.clip(4.0 * vals / scale[:, None], -50, 50))
        lam /= lam.sum(axis=1, keepdims=True)
    return best
