"""scikit-learn models read into a network: MLPs and the scalers in front of them, weights as they are.

Owns :func:`from_sklearn`. Read by attribute (``coefs_``, ``intercepts_``,
``mean_``, ...), so this module never imports scikit-learn; the weights stay
the float64 numbers scikit-learn trained.
"""

from __future__ import annotations

import numpy as np

from ..errors import NetworkFormatError
from ..network import Kinks, ReLUNetwork
from ..tolerances import RUNTIME_AGREE_F64

_MLPS = ("MLPClassifier", "MLPRegressor")


def from_sklearn(estimator) -> ReLUNetwork:
    """The network a fitted scikit-learn MLP (or Pipeline ending in one) computes, up to its logits.

    Supported: ``MLPClassifier`` and ``MLPRegressor`` with ``relu`` (or
    ``identity``) hidden activations, alone or at the end of a ``Pipeline``
    whose other steps are ``StandardScaler``, ``MinMaxScaler`` or
    ``MaxAbsScaler`` (folded into the first layer). A classifier's outputs
    are its logits, whose argmax is its prediction (a binary classifier's one
    logit ``z`` becomes the two outputs ``(0, z)``), and ``classes_`` become
    the labels.

    Parameters
    ----------
    estimator : sklearn estimator
        Fitted.

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the supported models (naming the step at fault).
    NetworkFormatError
        If the model is not fitted, or the network read disagrees with ``predict``.
    """
    steps = [s for _, s in estimator.steps] if type(estimator).__name__ == "Pipeline" else [estimator]
    *scalers, mlp = steps
    if type(mlp).__name__ not in _MLPS:
        raise TypeError(f"from_sklearn reads MLPClassifier and MLPRegressor (alone or ending a Pipeline), "
                        f"not {type(mlp).__name__}")
    if not hasattr(mlp, "coefs_"):
        raise NetworkFormatError(f"{type(mlp).__name__}: not fitted")
    if mlp.activation not in ("relu", "identity"):
        raise NetworkFormatError(f"{type(mlp).__name__}: activation {mlp.activation!r} is not piecewise linear "
                                 "(relu and identity are)")
    n = mlp.coefs_[0].shape[0]
    A, c = np.eye(n), np.zeros(n)  # the scalers, composed: x -> A x + c
    for step in scalers:
        S, t = _scaler(step, n)
        A, c = S @ A, S @ c + t
    layers = []
    for W, b in zip(mlp.coefs_, mlp.intercepts_):
        W, b = np.asarray(W, dtype=np.float64).T, np.asarray(b, dtype=np.float64)
        layers.append((W, b))
    W0, b0 = layers[0]
    layers[0] = (W0 @ A, W0 @ c + b0)
    labels = None
    if type(mlp).__name__ == "MLPClassifier":
        classes = [str(v) for v in mlp.classes_]
        W, b = layers[-1]
        if mlp.out_activation_ == "logistic" and W.shape[0] == 1 and len(classes) == 2:
            layers[-1] = (np.vstack([np.zeros_like(W), W]), np.concatenate([[0.0], b]))
            labels = tuple(classes)
        elif mlp.out_activation_ == "softmax":
            labels = tuple(classes)
    kinks = None
    if mlp.activation == "identity":
        kinks = [Kinks(np.ones(W.shape[0]), np.full(W.shape[0], -1)) for W, _ in layers[:-1]]
    net = ReLUNetwork(tuple(layers), source=f"sklearn {type(estimator).__name__}", kinks=kinks, labels=labels)
    _check(estimator, mlp, net, n)
    return net


def _scaler(step, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A scaler as ``x -> diag(s) x + t``."""
    name = type(step).__name__
    if name == "StandardScaler":
        mean = np.zeros(n) if step.mean_ is None else np.asarray(step.mean_, float)
        scale = np.ones(n) if step.scale_ is None else np.asarray(step.scale_, float)
        return np.diag(1.0 / scale), -mean / scale
    if name == "MinMaxScaler":
        if getattr(step, "clip", False):
            raise NetworkFormatError("MinMaxScaler with clip=True: give clip=False (the network reads any input)")
        return np.diag(np.asarray(step.scale_, float)), np.asarray(step.min_, float)
    if name == "MaxAbsScaler":
        return np.diag(1.0 / np.asarray(step.scale_, float)), np.zeros(n)
    raise TypeError(f"from_sklearn: pipeline step {name} is not supported (StandardScaler, MinMaxScaler, "
                    "MaxAbsScaler and a final MLP are)")


def _check(estimator, mlp, net: ReLUNetwork, n: int) -> None:
    """Refuse the network if scikit-learn's own prediction differs at a few random points."""
    X = np.random.default_rng(0).normal(size=(8, n))
    if type(mlp).__name__ == "MLPRegressor":
        expected = np.asarray(estimator.predict(X), float).reshape(8, -1)
        err = float(np.abs(net(X) - expected).max())
        ok = err <= RUNTIME_AGREE_F64 * max(1.0, float(np.abs(expected).max()))
    else:
        ok = net.labels is None or list(net.labels_of(net(X))) == [str(v) for v in estimator.predict(X)]
    if not ok:
        raise NetworkFormatError(f"{net.source}: the network read disagrees with the model's predict; refused")
