"""The catalogue file: one ``.npz`` holding the regions, the network, the domain and ``info``.

Arrays: the fields of :class:`RegionTable`; ``net_W{i}``, ``net_b{i}`` (the
network; ``net_slope{i}``, ``net_group{i}``, ``net_labels`` where it has kinks or
labels); ``hull_x0``, ``hull_B``, ``domain_P``, ``domain_p`` (the domain and
its affine hull); ``format``, ``fingerprint`` (of the network) and ``info``
(JSON, without the wall-clock time, so that the same run writes the same
bytes). ``docs/formats.md`` describes it for readers in other languages.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from ..errors import CatalogueFormatError
from ..io.npz import network_arrays, network_from_arrays
from ..network import ReLUNetwork
from ..polytope import Polytope
from ..polytope.hull import AffineHull
from .table import RegionTable

FORMAT = "shallowrelu-catalogue/1"


def to_arrays(network: ReLUNetwork, hull: AffineHull, table: RegionTable, info: dict) -> dict[str, np.ndarray]:
    """The arrays of a catalogue file."""
    arrays = {f.name: getattr(table, f.name) for f in fields(RegionTable)}
    arrays.update(network_arrays(network, prefix="net_"))
    arrays.update(hull_x0=hull.x0, hull_B=hull.B, domain_P=hull.domain.P, domain_p=hull.domain.p,
                  format=np.array(FORMAT), fingerprint=np.array(network.fingerprint()),
                  info=np.array(json.dumps(_reproducible(info), sort_keys=True)))
    return arrays


def from_arrays(data: dict[str, np.ndarray], path: Path) -> tuple[ReLUNetwork, AffineHull, RegionTable, dict]:
    """The network, hull, table and info of a catalogue file's arrays, checked for consistency.

    Raises
    ------
    CatalogueFormatError
        If the arrays are not a catalogue, incomplete or inconsistent.
    """
    if str(data.get("format", "")) != FORMAT:
        raise CatalogueFormatError(f"{path}: not a shallowrelu catalogue (format {FORMAT} expected)")
    try:
        net = network_from_arrays({k[4:]: v for k, v in data.items() if k.startswith("net_")}, source=str(path))
        table = RegionTable(**{f.name: data[f.name] for f in fields(RegionTable)})
        hull = AffineHull(data["hull_x0"], data["hull_B"], Polytope(data["domain_P"], data["domain_p"]))
        info = json.loads(str(data["info"]))
    except (KeyError, ValueError, TypeError) as exc:  # a NetworkFormatError is a ValueError
        raise CatalogueFormatError(f"{path}: incomplete catalogue ({exc})") from None
    _check_table(path, table, net, hull)
    if str(data["fingerprint"]) != net.fingerprint():
        raise CatalogueFormatError(f"{path}: network weights do not match the stored fingerprint")
    return net, hull, table, info


def _reproducible(info: dict) -> dict:
    """``info`` without what differs between identical runs."""
    # Wall-clock time differs between identical runs; the file must not.
    return {k: v for k, v in info.items() if k != "seconds"}


def _check_table(path: Path, t: RegionTable, net: ReLUNetwork, hull: AffineHull) -> None:
    """Refuse a table whose arrays do not fit each other, the network or the domain."""
    R = t.patterns.shape[0]
    n, m = hull.B.shape[1], net.n_outputs
    F = t.facet_g.shape[0]
    expect = {"patterns": (R, (net.n_neurons + 7) // 8), "A": (R, m, n), "d": (R, m), "facet_ptr": (R + 1,),
              "facet_G": (F, n), "facet_layer": (F,), "facet_index": (F,), "facet_point": (F, n),
              "facet_margin": (F,), "interior": (R, n), "inradius": (R,)}
    for name, shape in expect.items():
        if getattr(t, name).shape != shape:
            raise CatalogueFormatError(f"{path}: array {name} has shape {getattr(t, name).shape}, expected {shape}")
    if hull.B.shape[0] != net.n_inputs or hull.domain.dim != n:
        raise CatalogueFormatError(f"{path}: domain does not match the network's {net.n_inputs} inputs")
    ptr = t.facet_ptr
    if (ptr[0] != 0 or ptr[-1] != F or np.any(np.diff(ptr) < 0)):
        raise CatalogueFormatError(f"{path}: facet_ptr is not a valid index")
