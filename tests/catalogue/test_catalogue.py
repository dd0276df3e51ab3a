import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net


@pytest.fixture(scope="module")
def cat():
    return sr.enumerate_regions(random_net([2, 8, 6, 2], seed=21), sr.Box(-1, 1))


def test_save_load_round_trip(cat, tmp_path):
    path = tmp_path / "cat.npz"
    cat.save(path)
    back = sr.Catalogue.load(path)
    assert len(back) == len(cat)
    for name in ("patterns", "A", "d", "facet_ptr", "facet_G", "facet_g", "facet_layer", "facet_index",
                 "interior", "inradius"):
        np.testing.assert_array_equal(getattr(back.table, name), getattr(cat.table, name))
    assert back.network.fingerprint() == cat.network.fingerprint()
    assert back.info["complete"] and "seconds" not in back.info
    X = np.random.default_rng(0).uniform(-1, 1, size=(500, 2))
    np.testing.assert_array_equal(back.region_of(X), cat.region_of(X))
    r0, b0 = cat[5], back[5]
    assert r0.neurons == b0.neurons
    np.testing.assert_array_equal(r0.pattern, b0.pattern)


def test_saving_twice_gives_identical_bytes(cat, tmp_path):
    cat.save(tmp_path / "a.npz")
    cat.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_truncated_catalogue_is_refused(cat, tmp_path):
    path = tmp_path / "cat.npz"
    cat.save(path)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(sr.CatalogueFormatError, match="cut.npz"):
        sr.Catalogue.load(tmp_path / "cut.npz")


def test_network_file_is_not_a_catalogue(tmp_path):
    sr.save_network(random_net([2, 3, 1]), tmp_path / "net.npz")
    with pytest.raises(sr.CatalogueFormatError, match="not a shallowrelu catalogue"):
        sr.Catalogue.load(tmp_path / "net.npz")


def test_failed_save_leaves_nothing(cat, tmp_path):
    with pytest.raises(OSError):
        cat.save(tmp_path / "missing-dir" / "cat.npz")
    assert list(tmp_path.iterdir()) == []


def test_region_of_outside_the_domain_is_minus_one(cat):
    idx = cat.region_of(np.array([[1.5, 0.0], [0.0, 0.0], [-1.0, -1.0]]))
    assert idx[0] == -1 and idx[1] >= 0 and idx[2] >= 0


def test_region_of_a_boundary_point_gives_a_region_whose_closure_holds_it(cat):
    # a point on a facet between two regions
    r = cat[0]
    k = next(i for i, nid in enumerate(r.neurons) if nid != "domain")
    sl = cat.facet_rows(0)
    point = cat.table.facet_point[sl][k]
    i = cat.region_of(point[None])[0]
    other = cat[i]
    assert np.all(other.G @ point + other.g <= 1e-9)


def test_region_accessors(cat):
    assert cat[-1].index == len(cat) - 1
    with pytest.raises(IndexError):
        cat[len(cat)]
    s = cat.summary()
    assert s["regions"] == len(cat) and s["facets_max"] >= 3


@pytest.mark.parametrize("n", [2, 3])
def test_certificate_volumes_catch_a_region_that_lost_a_facet(n):
    """Every facet point still has a region beyond it, so only the volumes can tell."""
    full = sr.enumerate_regions(random_net([n, 8, 8, 1], seed=30 + n), sr.Box(-1, 1))
    assert full.certificate().complete
    tab = full.table
    owner = full.facet_owner
    i = int(np.argmax(np.diff(tab.facet_ptr)))  # the region with most facets
    drop = int(tab.facet_ptr[i]) + int(np.flatnonzero(tab.facet_layer[full.facet_rows(i)] != 0)[0])
    keep = np.arange(len(tab.facet_g)) != drop
    fields = {k: v[keep] if k.startswith("facet_") and k != "facet_ptr" else v for k, v in vars(tab).items()}
    fields["facet_ptr"] = np.concatenate([[0], np.cumsum(np.bincount(owner[keep], minlength=len(full)))])
    broken = sr.Catalogue(full.network, full.hull, type(tab)(**fields), dict(full.info)).certificate()
    assert broken.facets_without_neighbour == 0
    assert not broken.volume_ok and not broken.complete


def test_regions_packed_every_few_thousand_freeze_to_the_table_of_one_pack(monkeypatch):
    from shallowrelu.catalogue import table as table_module

    net = random_net([2, 8, 8, 1], seed=5)
    whole = sr.enumerate_regions(net, sr.Box(-1, 1))
    monkeypatch.setattr(table_module, "_PACK_EVERY", 7)  # packs end at odd places inside every chunk
    packed = sr.enumerate_regions(net, sr.Box(-1, 1))
    for field in ("patterns", "A", "d", "facet_ptr", "facet_G", "facet_g", "facet_layer", "facet_index",
                  "facet_point", "facet_margin", "interior", "inradius"):
        np.testing.assert_array_equal(getattr(whole.table, field), getattr(packed.table, field), err_msg=field)
