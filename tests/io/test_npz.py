"""The project's own network files: round trips, refusals, the bundled example."""

import zipfile

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net


def test_npz_round_trip_and_fingerprint(tmp_path):
    net = random_net([2, 4, 3, 1], seed=3)
    path = tmp_path / "net.npz"
    sr.save_network(net, path)
    back = sr.load_network(path)
    assert back.fingerprint() == net.fingerprint()
    assert random_net([2, 4, 3, 1], seed=4).fingerprint() != net.fingerprint()


def test_npz_with_missing_bias_names_it(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, W0=np.ones((2, 2)), b0=np.ones(2), W1=np.ones((1, 2)))
    with pytest.raises(sr.NetworkFormatError, match="b1 is missing"):
        sr.load_network(path)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "pickle.npz"
    np.savez(path, W0=np.array([object()], dtype=object), b0=np.ones(1))
    with pytest.raises(sr.NetworkFormatError, match="pickled"):
        sr.load_network(path)


def test_an_npz_is_known_by_its_content_under_a_name_without_the_extension(tmp_path):
    net = random_net([2, 4, 1], seed=5)
    sr.save_network(net, tmp_path / "net.npz")
    (tmp_path / "net.npz").rename(tmp_path / "net")
    assert sr.load_network(tmp_path / "net").fingerprint() == net.fingerprint()
    # a zip of other members (a .pt2 is one) is no .npz
    with zipfile.ZipFile(tmp_path / "other", "w") as zf:
        zf.writestr("data.pkl", b"")
    with pytest.raises(sr.NetworkFormatError, match=r"other: unknown network format '\(no extension\)'"):
        sr.load_network(tmp_path / "other")


def test_example_network_ships_with_the_package():
    net = sr.load_network(sr.example_path())
    assert (net.n_inputs, net.hidden_sizes, net.n_outputs) == (2, (8, 8), 2)


def test_written_files_are_ordinary_files_not_private_ones(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        sr.save_network(random_net([2, 3, 1]), tmp_path / "n.npz")
        assert (tmp_path / "n.npz").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(mask)
