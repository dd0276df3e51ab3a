"""Max groups in the search: which members may win on a node, and the rows where one wins.

A max group's output is its largest member (a max-pool window); on a node
the group is settled when one member beats every other on the whole node,
and split into one child per member that wins on an open part of it
(docs/design.md section 1). These are the node-level computations
:class:`.search.Search` uses for that; ties go to the earlier member.
"""

from __future__ import annotations

import numpy as np

from ..bounds import affine_range
from .node import Node


def may_win(node: Node, A: np.ndarray, c: np.ndarray, tau: float) -> np.ndarray:
    """Which members of groups (pre-activations ``A t + c``, shaped ``(..., k, n)`` and ``(..., k)``) are
    not beaten on the whole node by another (beyond the vertices' rounding; ties go to the earlier)."""
    k = c.shape[-1]
    D, off = A[..., :, None, :] - A[..., None, :, :], c[..., :, None] - c[..., None, :]   # [j, i]: z_j - z_i
    norms = np.linalg.norm(D, axis=-1)
    unit = np.where(norms > 0, norms, 1.0)
    if node.vertices is not None:
        low = (np.einsum("vn,...jin->...jiv", node.vertices, D).min(axis=-1) + off) / unit
        beats = low > tau
    else:
        low = affine_range(D.reshape(-1, D.shape[-1]), off.ravel(), node.box_lo, node.box_hi)[0]
        beats = low.reshape(off.shape) > 0
    earlier = np.arange(k)[:, None] < np.arange(k)[None, :]
    beats = np.where(norms > 0, beats, (off > 0) | ((off == 0) & earlier)) & ~np.eye(k, dtype=bool)
    return ~beats.any(axis=-2)


def known_rows(node: Node, G: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Which rows ``G t + g <= 0`` the node has already, bit for bit."""
    return np.array([np.any(np.all(node.normals == a, axis=1) & (node.offsets == o)) for a, o in zip(G, g)],
                    dtype=bool).reshape(-1)


def group_rows(A: np.ndarray, c: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
    """The unit-normal rows where member ``i`` of a group (pre-activations ``A t + c``) wins:
    ``z_j - z_i <= 0`` for every other member ``j``, and the members they come from. None where
    ``i`` can never win (an earlier member equal to it, or a member above it by a constant)."""
    rows, offsets, others = [], [], []
    for j in range(len(c)):
        if j == i:
            continue
        a, off = A[j] - A[i], c[j] - c[i]
        norm = np.linalg.norm(a)
        if norm == 0.0:
            if off > 0 or (off == 0 and j < i):  # ties go to the earlier member
                return None
            continue
        a, off = a / norm, off / norm
        if any(np.array_equal(a, r) and off == o for r, o in zip(rows, offsets)):
            continue  # two members equal here give one row: a repeated row would hide its facet
        rows.append(a)
        offsets.append(off)
        others.append(j)
    return np.array(rows).reshape(-1, A.shape[1]), np.array(offsets), others


def pair_matrix(k: int, i: int, others: list[int]) -> np.ndarray:
    """``P`` with ``z @ P`` the differences ``z_i - z_j`` over ``others``."""
    P = np.zeros((k, len(others)))
    P[i, :] = 1.0
    P[others, np.arange(len(others))] = -1.0
    return P


def pair_norms(A: np.ndarray, i: int, others: list[int]) -> np.ndarray:
    """The norms of the rows ``A_i - A_j`` over ``others`` (1 for none)."""
    return np.linalg.norm(A[i] - A[others], axis=1) if others else np.ones(0)
