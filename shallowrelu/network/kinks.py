"""The kinds of kink a hidden layer can have, and the pattern bits they give (``docs/design.md`` section 1).

A hidden layer computes its pre-activations ``z`` (one per *unit*) and turns
them into outputs unit by unit:

- an elementwise unit outputs ``z`` where ``z > 0`` and ``slope * z`` elsewhere:
  slope 0 is a ReLU, another slope a leaky ReLU (PReLU), and slope 1 no kink
  at all (a unit that carries a value past the layer, as a skip connection
  needs);
- a member of a max group outputs its ``z`` if it is the group's largest
  (the first on ties) and 0 otherwise. The next layer reads a group through
  one column repeated for every member, so it sees the maximum: max-pooling
  and elementwise Max and Min.

Every unit has one pattern bit: ``z > 0`` for an elementwise unit with a
kink, "wins its group" for a group member, and always 1 for a unit with no
kink. On a fixed pattern each output is ``f * z`` with ``f = 1`` where the
bit is set and ``slope`` where it is not, which is all the search, the exact
forms and the bounds need to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Kinks:
    """How one hidden layer of width ``w`` turns its pre-activations into outputs.

    Parameters
    ----------
    slope : ndarray, shape (w,)
        An elementwise unit's slope where ``z <= 0`` (0: ReLU, 1: no kink);
        0 for the members of a max group.
    group : ndarray of int, shape (w,)
        -1 for an elementwise unit, else the index of the unit's max group.
    """

    slope: np.ndarray
    group: np.ndarray

    def __post_init__(self) -> None:
        slope = np.array(self.slope, dtype=np.float64).reshape(-1)
        group = np.array(self.group, dtype=np.int64).reshape(-1)
        if slope.shape != group.shape:
            raise ValueError(f"slope has {slope.size} entries but group {group.size}")
        if not np.all(np.isfinite(slope)):
            raise ValueError("a slope is NaN or infinite")
        if np.any(slope[group >= 0] != 0.0):
            raise ValueError("the members of a max group must have slope 0")
        if np.any(group < -1):
            raise ValueError("group indices must be -1 or non-negative")
        for g in np.unique(group[group >= 0]):
            idx = np.flatnonzero(group == g)
            if idx[-1] - idx[0] + 1 != idx.size:  # the search decides a group where its first member stands
                raise ValueError(f"the members of max group {g} are not consecutive units")
        slope.setflags(write=False)
        group.setflags(write=False)
        object.__setattr__(self, "slope", slope)
        object.__setattr__(self, "group", group)

    @staticmethod
    def relu(width: int) -> "Kinks":
        """A plain ReLU layer."""
        return Kinks(np.zeros(width), np.full(width, -1))

    @property
    def width(self) -> int:
        """Units of the layer."""
        return self.slope.size

    @property
    def is_relu(self) -> bool:
        """Every unit a plain ReLU."""
        return bool(np.all(self.group < 0) and np.all(self.slope == 0.0))

    @cached_property
    def _members(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The group members ordered by (group, index), the start of each group and its size."""
        idx = np.flatnonzero(self.group >= 0)
        order = idx[np.lexsort((idx, self.group[idx]))]
        groups, starts, counts = np.unique(self.group[order], return_index=True, return_counts=True)
        return order, starts, counts

    @cached_property
    def groups(self) -> list[np.ndarray]:
        """The members of each max group, in index order."""
        order, starts, counts = self._members
        return [order[s:s + c] for s, c in zip(starts, counts)]

    @cached_property
    def _group_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per unit, the first member of its group and the group's size (-1 and 0 for an elementwise unit)."""
        first, size = np.full(self.width, -1), np.zeros(self.width, dtype=np.int64)
        for members in self.groups:
            first[members], size[members] = members[0], members.size
        return first, size

    def members_of(self, j: int) -> np.ndarray:
        """The members of unit ``j``'s max group."""
        first, size = self._group_starts
        return np.arange(first[j], first[j] + size[j])

    def run_from(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """The first members and sizes of the consecutive max groups from unit ``j`` (a group's first) on."""
        first, size = self._group_starts
        starts, sizes = [], []
        while j < self.width and first[j] == j:
            starts.append(j)
            sizes.append(size[j])
            j += size[j]
        return np.array(starts, dtype=np.int64), np.array(sizes, dtype=np.int64)

    @cached_property
    def kinked(self) -> np.ndarray:
        """Units whose bit can change: elementwise units with slope other than 1, members of groups of two
        or more."""
        out = (self.group < 0) & (self.slope != 1.0)
        for members in self.groups:
            if members.size > 1:
                out[members] = True
        return out

    def bits(self, Z: np.ndarray) -> np.ndarray:
        """The pattern bits at pre-activations ``Z`` (shape ``(k, w)``), as bool."""
        Z = np.asarray(Z, dtype=np.float64)
        out = (Z > 0) | ((self.group < 0) & (self.slope == 1.0))
        order, starts, counts = self._members
        if order.size:
            Zm = Z[:, order]
            top = np.repeat(np.maximum.reduceat(Zm, starts, axis=1), counts, axis=1)
            at_top = Zm == top
            seen = np.cumsum(at_top, axis=1)
            before = np.repeat(seen[:, starts] - at_top[:, starts], counts, axis=1)
            out[:, order] = at_top & (seen - before == 1)  # the first member at the top
        return out

    def factors(self, bits: np.ndarray) -> np.ndarray:
        """``f`` with output ``f * z`` under ``bits`` (any leading shape): 1 where set, ``slope`` where not."""
        return np.where(bits, 1.0, self.slope)

    def describe(self) -> str:
        """The kinds of unit, in words (for reprs and messages)."""
        kinds = []
        elementwise = self.group < 0
        if np.any(elementwise & (self.slope == 0.0)):
            kinds.append("relu")
        if np.any(elementwise & (self.slope != 0.0) & (self.slope != 1.0)):
            kinds.append("leaky")
        if np.any(elementwise & (self.slope == 1.0)):
            kinds.append("linear")
        if any(m.size > 1 for m in self.groups):
            kinds.append("max")
        return "+".join(kinds) or "none"
