"""Property tests over generated degenerate nets: the enumerator against independent oracles,
the shallow network against the deep one (docs/design.md section 5)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shallowrelu as sr
from shallowrelu.testing.nets import fuzz_net
from shallowrelu.testing.oracles import compare_with_oracle

TOL = sr.Tolerances()


@pytest.mark.slow
@settings(max_examples=210, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.sampled_from([1, 2, 3]), depth=st.sampled_from([1, 2]))
def test_generated_nets_match_oracles_and_the_shallow_network(seed, n, depth):
    net = fuzz_net(seed, n, depth=depth)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    rng = np.random.default_rng(seed)
    problems = compare_with_oracle(cat, net, n, TOL.min_radius, rng)
    assert not problems, (seed, n, depth, problems)
    assert cat.info["complete"], (seed, n, depth, cat.info["certificate"])
    report = sr.check_equivalence(net, sr.build_shallow(cat), cat, samples=300)
    assert report.passed, (seed, n, depth, report.as_dict())
