"""PyTorch ``nn.Sequential`` modules read into a network, duck-typed: torch is never imported here."""

from __future__ import annotations

import numpy as np

from ..errors import NetworkFormatError
from ..network import ReLUNetwork
from .affine import Affine, batch_norm, conv


def from_torch(module, input_shape: tuple[int, ...] | None = None) -> ReLUNetwork:
    """The network of a PyTorch ``nn.Sequential`` (in eval mode) of Linear, Conv2d, ReLU, ...

    Duck-typed: modules are read by class name and their ``weight``/``bias``
    tensors, so this module never imports torch. Supported: Linear, Conv2d,
    ReLU, Flatten, Identity, Dropout (inference: identity), BatchNorm1d/2d
    (running statistics folded into the preceding map); nested Sequential.

    Parameters
    ----------
    module : torch.nn.Module
    input_shape : tuple of int, optional
        Shape of one input without the batch axis, e.g. ``(1, 8, 8)``;
        needed when the first layer is a convolution.

    Raises
    ------
    NetworkFormatError
        Naming the module at fault.
    """
    def tensor(t) -> np.ndarray:
        """A torch tensor as a float64 array."""
        return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)

    mods = []

    def walk(m) -> None:
        """Collect the leaf modules of nested Sequentials, in order."""
        if type(m).__name__ == "Sequential":
            for child in m:
                walk(child)
        else:
            mods.append(m)

    walk(module)
    x = None
    if input_shape is not None:
        n = int(np.prod(input_shape))
        x = Affine(np.eye(n), np.zeros(n), tuple(input_shape))
    layers: list = []
    for k, m in enumerate(mods):
        name = type(m).__name__
        where = f"torch module {k} ({name})"
        if name == "Linear":
            W = tensor(m.weight)
            b = tensor(m.bias) if m.bias is not None else np.zeros(W.shape[0])
            if x is None:
                x = Affine(np.eye(W.shape[1]), np.zeros(W.shape[1]), (W.shape[1],))
            if x.v.size != W.shape[1]:
                raise NetworkFormatError(f"{where}: takes {W.shape[1]} inputs but gets {x.v.size}")
            x = Affine(W @ x.M, W @ x.v + b, (W.shape[0],))
        elif x is None:
            raise NetworkFormatError(f"{where}: give input_shape when the first layer is not Linear")
        elif name == "ReLU":
            layers.append((x.M, x.v))
            x = Affine(np.eye(x.v.size), np.zeros(x.v.size), x.shape)
        elif name == "Flatten":
            x = Affine(x.M, x.v, (x.v.size,))
        elif name in ("Identity", "Dropout"):
            continue
        elif name in ("BatchNorm1d", "BatchNorm2d"):
            x = batch_norm(x, tensor(m.weight), tensor(m.bias), tensor(m.running_mean), tensor(m.running_var),
                           float(m.eps))
        elif name == "Conv2d":
            if m.padding_mode != "zeros" or isinstance(m.padding, str):
                raise NetworkFormatError(f"{where}: only explicit zero padding is supported")
            ph, pw = m.padding
            x = conv(x, tensor(m.weight), None if m.bias is None else tensor(m.bias), m.stride, [ph, pw, ph, pw],
                     m.dilation, m.groups, where)
        else:
            raise NetworkFormatError(f"{where} is not supported (supported: Linear, Conv2d, ReLU, Flatten, "
                                     "Identity, Dropout, BatchNorm1d/2d)")
    if x is None:
        raise NetworkFormatError("torch module: no layers")
    layers.append((x.M, x.v))
    return ReLUNetwork(tuple(layers), source=f"torch {type(module).__name__}")
