"""A traced graph: tensors as affine maps of the outputs of kink blocks, and their lowering to layers.

Owns :class:`Traced` (a tensor that is ``sum_b M_b h_b + v`` over *blocks*:
the network's input, block 0, and the outputs of every kink operation met so
far), :class:`Tracer` (which records the kink blocks) and the lowering of the
recorded blocks into a layered network (:meth:`Tracer.network`).

A kink block takes a traced pre-activation and has one unit per entry
(:class:`shallowrelu.network.Kinks`: ReLU, leaky, no kink, max groups). Its
depth is one more than the deepest block its pre-activation reads; the blocks
of one depth make one hidden layer. A block read by a layer deeper than the
next is carried there by units with no kink, which add no hyperplane: skip
connections, parallel branches and residual sums are read exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkFormatError
from ..network import MAX_WEIGHTS, Kinks, ReLUNetwork


@dataclass
class Traced:
    """A tensor of shape ``shape`` (no batch axis) whose flattened entries are ``sum_b parts[b] @ h_b + v``.

    Attributes
    ----------
    parts : dict of int to ndarray
        Per block read, a matrix of shape ``(size, width of the block)``.
    v : ndarray, shape (size,)
    shape : tuple of int
    """

    parts: dict[int, np.ndarray]
    v: np.ndarray
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        """Entries of the tensor."""
        return self.v.size

    def map(self, T: np.ndarray, c: np.ndarray | float = 0.0, shape: tuple[int, ...] | None = None) -> "Traced":
        """``T @ self + c``: a linear map of the entries (``T`` of shape ``(out, size)``)."""
        shape = (T.shape[0],) if shape is None else tuple(shape)
        return Traced({b: T @ P for b, P in self.parts.items()}, T @ self.v + c, shape)

    def rows(self, idx: np.ndarray, shape: tuple[int, ...], fill: float = 0.0) -> "Traced":
        """The entries at the flat indices ``idx`` (-1: the constant ``fill``), in a tensor of ``shape``."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        keep = idx >= 0
        safe = np.where(keep, idx, 0)

        def take(M: np.ndarray) -> np.ndarray:
            out = M[safe]
            out[~keep] = 0.0
            return out

        v = np.where(keep, self.v[safe], fill)
        return Traced({b: take(P) for b, P in self.parts.items()}, v, tuple(shape))

    def scale(self, s: np.ndarray, c: np.ndarray | float = 0.0) -> "Traced":
        """``s * self + c`` entry by entry."""
        s = np.broadcast_to(np.asarray(s, dtype=np.float64), (self.size,))
        return Traced({b: P * s[:, None] for b, P in self.parts.items()}, self.v * s + c, self.shape)

    def reshape(self, shape: tuple[int, ...]) -> "Traced":
        """The same entries in another shape (row-major)."""
        if int(np.prod(shape)) != self.size:
            raise ValueError(f"cannot reshape {self.shape} to {shape}")
        return Traced(self.parts, self.v, tuple(shape))

    def plus(self, other: "Traced", sign: float = 1.0) -> "Traced":
        """``self + sign * other`` (same size)."""
        parts = dict(self.parts)
        for b, P in other.parts.items():
            parts[b] = parts[b] + sign * P if b in parts else sign * P
        return Traced(parts, self.v + sign * other.v, self.shape)


def concat(pieces: list[Traced], shape: tuple[int, ...], order: np.ndarray) -> Traced:
    """The entries of ``pieces`` stacked, then permuted by ``order`` (flat indices into the stack)."""
    blocks = sorted({b for p in pieces for b in p.parts})
    widths = {}
    for p in pieces:
        for b, P in p.parts.items():
            widths[b] = P.shape[1]
    parts = {b: np.vstack([p.parts.get(b, np.zeros((p.size, widths[b]))) for p in pieces])[order] for b in blocks}
    return Traced(parts, np.concatenate([p.v for p in pieces])[order], tuple(shape))


@dataclass
class Block:
    """A kink operation: its pre-activation, its units' kinks, where it came from, and how it is carried.

    A block read past the next layer is carried by units with no kink: one
    per unit, or for max groups one per group (its result, the sum of its
    members' outputs), so that a group is always read through one column;
    a reader's map over the units is then its columns ``pick`` (the groups'
    first members) over the carried values.
    """

    pre: Traced
    kinks: Kinks
    name: str
    depth: int = 0

    @property
    def pick(self) -> np.ndarray | None:
        """The units whose columns a reader of the carried block keeps (None: every unit is carried)."""
        if not self.kinks.groups:
            return None
        rest = np.flatnonzero(self.kinks.group < 0)
        return np.sort(np.concatenate([rest] + [m[:1] for m in self.kinks.groups]))

    def carry_rows(self) -> np.ndarray:
        """The carried values as rows over the block's units."""
        pick = self.pick
        if pick is None:
            return np.eye(self.kinks.width)
        rows = np.zeros((pick.size, self.kinks.width))
        for r, unit in enumerate(pick):
            g = self.kinks.group[unit]
            rows[r, self.kinks.group == g if g >= 0 else unit] = 1.0
        return rows


@dataclass
class Tracer:
    """Records the kink blocks of a traced graph and lowers them into layers.

    Block 0 is the network's input, of width ``n_inputs``.
    """

    n_inputs: int
    where: str
    blocks: list[Block] = field(default_factory=list)

    def input(self, shape: tuple[int, ...]) -> Traced:
        """The network's input as a traced tensor."""
        return Traced({0: np.eye(self.n_inputs)}, np.zeros(self.n_inputs), tuple(shape))

    def kink(self, pre: Traced, kinks: Kinks, name: str, out: np.ndarray | None = None,
             shape: tuple[int, ...] | None = None, c: np.ndarray | float = 0.0) -> Traced:
        """A new block with pre-activations ``pre`` and units ``kinks``; returns ``out @ h + c``.

        ``out`` (default: the identity) maps the units' outputs to the
        operation's result: a max group's result is the sum of its members'
        outputs (the winner's ``z``, the others 0).
        """
        if pre.size != kinks.width:
            raise NetworkFormatError(f"{self.where}: {pre.size} pre-activations for {kinks.width} units")
        b = len(self.blocks) + 1
        depth = 1 + max((0 if p == 0 else self.blocks[p - 1].depth) for p in pre.parts) if pre.parts else 1
        self.blocks.append(Block(pre, kinks, name, depth))
        width = kinks.width
        out = np.eye(width) if out is None else out
        return Traced({b: out}, np.zeros(out.shape[0]) + c, pre.shape if shape is None else tuple(shape))

    def _depth(self, b: int) -> int:
        return 0 if b == 0 else self.blocks[b - 1].depth

    def network(self, output: Traced, source: str, labels=None, note: str = "") -> ReLUNetwork:
        """The layered network computing ``output``: one hidden layer per depth, blocks read past the next
        layer carried by units with no kink.

        Raises
        ------
        NetworkFormatError
            If the output does not depend on the input or the layers would be too large.
        """
        if not output.parts:
            raise NetworkFormatError(f"{self.where}: the output does not depend on the input")
        depth_out = 1 + max(self._depth(b) for b in output.parts)
        # the deepest layer that reads each block (the output layer is depth_out)
        last_read = {b: self._depth(b) + 1 for b in range(len(self.blocks) + 1)}
        for block in self.blocks:
            for p in block.pre.parts:
                last_read[p] = max(last_read[p], block.depth)
        for p in output.parts:
            last_read[p] = max(last_read[p], depth_out)
        # layer d (1..depth_out-1) holds its own blocks, then carries of the blocks read deeper than d + 1
        layout: list[list[tuple[int, bool]]] = [[] for _ in range(depth_out)]
        for b, block in enumerate(self.blocks, start=1):
            if block.depth < depth_out:
                layout[block.depth].append((b, False))
        for b in range(len(self.blocks) + 1):
            for d in range(self._depth(b) + 1, min(last_read[b], depth_out)):
                layout[d].append((b, True))
        where_in = {0: {0: 0}}  # layer -> block -> first column of its values there (layer 0: the input)
        total, layers, kinks = 0, [], []
        for d in range(1, depth_out):
            place, start, rows, slope, group = {}, 0, [], [], []
            group_base = 0
            below = where_in[d - 1]
            for b, carried in layout[d]:
                place[b] = start
                if carried:
                    C = self._carry(b) if self._depth(b) == d - 1 else np.eye(self._width_at(b, d - 1))
                    W = np.zeros((C.shape[0], self._layer_width(below, d - 1)))
                    W[:, below[b]:below[b] + C.shape[1]] = C
                    rows.append((W, np.zeros(C.shape[0])))
                    slope.append(np.ones(C.shape[0]))
                    group.append(np.full(C.shape[0], -1))
                    start += C.shape[0]
                else:
                    block = self.blocks[b - 1]
                    rows.append(self._rows(block.pre, below, d))
                    slope.append(block.kinks.slope)
                    g = block.kinks.group
                    group.append(np.where(g >= 0, g + group_base, -1))
                    group_base += int(g.max(initial=-1)) + 1
                    start += block.kinks.width
            where_in[d] = place
            W = np.vstack([r[0] for r in rows])
            b_ = np.concatenate([r[1] for r in rows])
            total += W.size
            if total > MAX_WEIGHTS:
                raise NetworkFormatError(f"{self.where}: more than {MAX_WEIGHTS} weights once lowered to layers")
            layers.append((W, b_))
            kinks.append(Kinks(np.concatenate(slope), np.concatenate(group)))
        layers.append(self._rows(output, where_in[depth_out - 1], depth_out))
        return ReLUNetwork(tuple(layers), source=source, kinks=kinks, labels=labels, note=note)

    def _carry(self, b: int) -> np.ndarray:
        """What carries block ``b`` past the layer after its own: rows over its values there."""
        return np.eye(self.n_inputs) if b == 0 else self.blocks[b - 1].carry_rows()

    def _rows(self, t: Traced, place: dict[int, int], d: int) -> tuple[np.ndarray, np.ndarray]:
        """``t`` as rows ``W h + b`` over layer ``d - 1`` (whose blocks start at ``place``)."""
        W = np.zeros((t.size, self._layer_width(place, d - 1)))
        for b, P in t.parts.items():
            if b not in place:
                raise NetworkFormatError(f"{self.where}: internal error: block {b} is not in layer {d - 1}")
            if b > 0 and self._depth(b) < d - 1 and self.blocks[b - 1].pick is not None:
                P = P[:, self.blocks[b - 1].pick]  # read through the carried group results
            W[:, place[b]:place[b] + P.shape[1]] = P  # each block once: the bits of P, zeros signs and all
        return W, t.v.copy()

    def _layer_width(self, place: dict[int, int], d: int) -> int:
        return sum(self._width_at(b, d) for b in place)

    def _width_at(self, b: int, d: int) -> int:
        """Columns block ``b`` takes in layer ``d``: its units in its own layer, its carried values after."""
        if b == 0:
            return self.n_inputs
        block = self.blocks[b - 1]
        return block.kinks.width if block.depth == d or block.pick is None else block.pick.size
