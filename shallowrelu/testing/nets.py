"""Network generators for the tests: random He-initialised nets and degenerate ones."""

from __future__ import annotations

import numpy as np

from ..network import Kinks, ReLUNetwork


def random_net(sizes, seed=0, bias=0.1) -> ReLUNetwork:
    """A He-initialised network with layer widths ``sizes`` (weights ``N(0, 2/fan_in)``, biases ``N(0, bias^2)``)."""
    rng = np.random.default_rng(seed)
    return ReLUNetwork([(rng.normal(size=(b, a)) * np.sqrt(2 / a), rng.normal(size=b) * bias)
                           for a, b in zip(sizes[:-1], sizes[1:])])


def degenerate_nets() -> dict[str, ReLUNetwork]:
    """2-input nets that break naive enumerators; every one over the box [-1, 1]^2."""
    rng = np.random.default_rng(7)
    out = {}

    def net(W1, b1, extra=()):
        """A 2-input net with first layer ``W1, b1`` and random hidden layers of the widths ``extra``."""
        W1, b1 = np.asarray(W1, float), np.asarray(b1, float)
        layers = [(W1, b1)]
        width = W1.shape[0]
        for w in extra:
            layers.append((rng.normal(size=(w, width)), rng.normal(size=w) * 0.3))
            width = w
        layers.append((rng.normal(size=(2, width)), rng.normal(size=2)))
        return ReLUNetwork(layers)

    base = rng.normal(size=(3, 2))
    bb = rng.normal(size=3) * 0.3
    out["duplicate"] = net(np.vstack([base, base[:1]]), np.append(bb, bb[0]), (4,))
    out["scaled_duplicate"] = net(np.vstack([base, 3 * base[:1], -2 * base[1:2]]),
                                  np.concatenate([bb, 3 * bb[:1], -2 * bb[1:2]]), (4,))
    out["dead_and_always_active"] = net(np.vstack([base, [[1, 1], [1, -1]]]), np.append(bb, [-100, 100]), (4,))
    out["zero_rows"] = net(np.vstack([base, [[0, 0], [0, 0]]]), np.append(bb, [0.0, 0.5]), (4,))
    out["parallel"] = net([[1, 0.5]] * 5, [-0.8, -0.3, 0.0, 0.4, 0.9], (3,))
    angles = np.linspace(0, np.pi, 7, endpoint=False)
    through = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    p0 = np.array([0.2, -0.1])
    out["concurrent"] = net(through, -through @ p0, (3,))
    # A second layer that copies the first layer's hyperplanes and bends along them.
    W2 = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, -1.0, 0.5], [0, 0, 0]])
    out["bent_copies"] = ReLUNetwork([(base, bb), (W2, np.array([0.0, -0.1, 0.05, 0.0])),
                                         (rng.normal(size=(1, 4)), np.zeros(1))])
    # Every neuron of layer 2 dead on the box, and a layer-2 neuron through a layer-1 vertex.
    out["dead_layer"] = ReLUNetwork([(base, bb), (-np.abs(rng.normal(size=(3, 3))), -np.ones(3)),
                                        (rng.normal(size=(1, 3)), np.zeros(1))])
    out["deep_narrow"] = net(rng.normal(size=(4, 2)), rng.normal(size=4) * 0.2, (3, 3, 3, 3))
    return out


DEGENERACIES = ("duplicate", "scaled_duplicate", "flipped_duplicate", "zero_row", "dead", "always_active",
                "parallel", "concurrent", "near_parallel_sliver", "wide_scales")


def fuzz_net(seed: int, n: int, degeneracies: tuple[str, ...] = DEGENERACIES, depth: int = 2) -> ReLUNetwork:
    """A small random net in ``n`` inputs with some degeneracies mixed into every hidden layer.

    Which degeneracies appear is drawn from ``degeneracies`` by ``seed``; the
    domain meant is the box [-1, 1]^n.
    """
    rng = np.random.default_rng(seed)
    layers = []
    width_in = n
    for _ in range(depth):
        w = int(rng.integers(2, 5))
        W, b = rng.normal(size=(w, width_in)), rng.normal(size=w) * 0.4
        extra_W, extra_b = [], []
        for name in degeneracies:
            if rng.random() > 0.35:
                continue
            k = int(rng.integers(w))
            if name == "duplicate":
                extra_W.append(W[k]), extra_b.append(b[k])
            elif name == "scaled_duplicate":
                s = 10.0 ** rng.uniform(-3, 3)
                extra_W.append(s * W[k]), extra_b.append(s * b[k])
            elif name == "flipped_duplicate":
                extra_W.append(-2.0 * W[k]), extra_b.append(-2.0 * b[k])
            elif name == "zero_row":
                extra_W.append(np.zeros(width_in)), extra_b.append(float(rng.choice([0.0, 0.3])))
            elif name == "dead":
                extra_W.append(W[k]), extra_b.append(-1e3)
            elif name == "always_active":
                extra_W.append(W[k]), extra_b.append(1e3)
            elif name == "parallel":
                extra_W.append(W[k]), extra_b.append(b[k] + rng.uniform(0.05, 0.5))
            elif name == "concurrent" and width_in == n:
                p0 = rng.uniform(-0.5, 0.5, size=n)
                for _ in range(2):
                    a = rng.normal(size=n)
                    extra_W.append(a), extra_b.append(-a @ p0)
            elif name == "near_parallel_sliver" and width_in == n:
                # a second hyperplane 1e-8 .. 1e-6 from the first: a sliver near the tolerance
                gap = 10.0 ** rng.uniform(-8, -6) * np.linalg.norm(W[k])
                extra_W.append(W[k]), extra_b.append(b[k] + gap)
            elif name == "wide_scales":
                s = 10.0 ** rng.uniform(-6, 6)
                W[k], b[k] = s * W[k], s * b[k]
        if extra_W:
            W = np.vstack([W, np.array(extra_W)])
            b = np.concatenate([b, np.array(extra_b)])
        order = rng.permutation(W.shape[0])
        layers.append((W[order], b[order]))
        width_in = W.shape[0]
    layers.append((rng.normal(size=(2, width_in)), rng.normal(size=2)))
    return ReLUNetwork(layers)




def kinked_net(sizes, seed: int = 0, leaky: float = 0.25, carry: float = 0.2, pool: int = 2) -> ReLUNetwork:
    """A random network with every kind of kink: per hidden layer, max groups of ``pool`` units first,
    then elementwise units of which about ``leaky`` are leaky (slopes in (-0.5, 0.9)), ``carry`` have no
    kink, and the rest are ReLU. ``sizes`` gives the number of outputs of each layer (a group counts once)."""
    rng = np.random.default_rng(seed)
    layers, kinks = [], []
    width_in = sizes[0]
    for l, out in enumerate(sizes[1:]):
        last = l == len(sizes) - 2
        groups = 0 if last else int(rng.integers(0, out // 2 + 1))
        units = groups * pool + (out - groups)
        W = rng.normal(size=(units, width_in)) * np.sqrt(2.0 / width_in)
        b = rng.normal(size=units) * 0.1
        layers.append((W, b))
        if not last:
            group = np.concatenate([np.repeat(np.arange(groups), pool), np.full(out - groups, -1)])
            slope = np.zeros(units)
            free = np.flatnonzero(group < 0)
            kind = rng.random(free.size)
            slope[free[kind < leaky]] = rng.uniform(-0.5, 0.9, int((kind < leaky).sum()))
            slope[free[(kind >= leaky) & (kind < leaky + carry)]] = 1.0
            kinks.append(Kinks(slope, group))
            width_in = units
    # the next layer reads a group through one column repeated for its members
    for l, k in enumerate(kinks):
        W, b = layers[l + 1]
        for members in k.groups:
            W[:, members] = W[:, members[:1]]
    return ReLUNetwork(layers, kinks=kinks, source=f"kinked_net{tuple(sizes)} seed {seed}")
