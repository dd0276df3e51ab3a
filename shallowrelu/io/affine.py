"""Layers of a traced graph as affine maps of the current ReLU input, for the ONNX and PyTorch readers.

Owns :class:`Affine` (a tensor that is ``M h + v``) and the layers both
readers lower to it: a 2-D convolution as one dense matrix, inference-mode
batch normalisation folded into the map.
"""

from __future__ import annotations

import numpy as np

from ..errors import NetworkFormatError
from ..network import MAX_WEIGHTS


class Affine:
    """A tensor that is an affine function ``M h + v`` of the output ``h`` of hidden layer ``stamp``.

    ``stamp`` 0 is the network's input. A layered network can only read the
    newest layer's output, so the readers refuse an operation that mixes
    stamps (a skip connection) rather than add maps of different variables.
    """

    def __init__(self, M: np.ndarray, v: np.ndarray, shape: tuple[int, ...], stamp: int = 0) -> None:
        self.M, self.v, self.shape, self.stamp = M, v, shape, stamp

    def like(self, M: np.ndarray, v: np.ndarray, shape: tuple[int, ...] | None = None) -> "Affine":
        """Another map of the same variables."""
        return Affine(M, v, self.shape if shape is None else shape, self.stamp)


def batch_norm(x: Affine, scale, bias, mean, var, eps: float) -> Affine:
    """Inference-mode batch normalisation folded into the affine map (channels first)."""
    s = np.asarray(scale, float) / np.sqrt(np.asarray(var, float) + eps)
    rep = x.v.size // s.size
    s_full, shift = np.repeat(s, rep), np.repeat(np.asarray(bias, float) - np.asarray(mean, float) * s, rep)
    return x.like(x.M * s_full[:, None], x.v * s_full + shift)


def conv(x: Affine, weight: np.ndarray, bias: np.ndarray | None, strides, pads, dilations, group: int,
         where: str) -> Affine:
    """A 2-D convolution (channels first, no batch axis) lowered to one dense matrix."""
    if weight.ndim != 4 or len(x.shape) != 3:
        raise NetworkFormatError(f"{where}: only 2-D convolutions of a (C, H, W) input are supported, "
                                 f"got weight {weight.shape} on input {x.shape}")
    C, H, Wd = x.shape
    O, Cg, kh, kw = weight.shape
    if Cg * group != C or O % group:
        raise NetworkFormatError(f"{where}: weight {weight.shape} with group {group} does not fit {C} channels")
    (sh, sw), (dh, dw), (pt, pl) = strides, dilations, pads[:2]
    Ho = (H + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    if Ho < 1 or Wo < 1:
        raise NetworkFormatError(f"{where}: the kernel does not fit the input {x.shape}")
    if O * Ho * Wo * C * H * Wd > MAX_WEIGHTS:
        raise NetworkFormatError(f"{where}: too large to lower to a dense matrix")
    K = np.zeros((O, Ho, Wo, C, H, Wd))
    per_group = O // group
    for o in range(O):
        for c in range(Cg):
            ci = (o // per_group) * Cg + c
            for a in range(kh):
                rows = np.arange(Ho) * sh - pt + a * dh
                for b in range(kw):
                    cols = np.arange(Wo) * sw - pl + b * dw
                    oi, oj = np.nonzero(((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < Wd))[None, :])
                    K[o, oi, oj, ci, rows[oi], cols[oj]] += weight[o, c, a, b]
    K = K.reshape(O * Ho * Wo, C * H * Wd)
    shift = np.repeat(np.zeros(O) if bias is None else np.asarray(bias, float), Ho * Wo)
    return x.like(K @ x.M, K @ x.v + shift, (O, Ho, Wo))
