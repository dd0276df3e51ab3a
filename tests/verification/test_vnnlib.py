"""The VNN-LIB parser: what it reads, and errors that name the line."""

import pytest

import shallowrelu as sr
from tests.helpers import DATA


@pytest.mark.parametrize("text,match", [
    ("(declare-const X_0 Real)\n(assert (<= X_0 1)", "unbalanced"),
    ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_3 1))", "line 3: unknown variable X_3"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 foo))", "unknown symbol 'foo'"),
    ("(declare-const X_0 Real)\n(assert (= X_0 1))", "unsupported operator '='"),
    ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 Y_0))", "mixes inputs and outputs"),
    ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= Y_0 1))", "X_0 has no lower and upper"),
])
def test_vnnlib_errors_name_the_line(text, match):
    with pytest.raises(sr.VnnlibError, match=match):
        sr.parse_vnnlib(text, "p.vnnlib")


def test_prop6_style_disjunction_of_input_boxes():
    prop = sr.load_vnnlib(DATA / "prop_6.vnnlib")
    assert len(prop.terms) == 8  # 2 input boxes x 4 output alternatives
    assert len({tuple(t.lo) for t in prop.terms}) == 2
    assert len({tuple(t.C.ravel()) for t in prop.terms}) == 4
