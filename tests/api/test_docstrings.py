"""Every public function and class documents every parameter it takes (numpydoc ``name : type`` lines)."""

import inspect
import re

import pytest

import shallowrelu as sr


def _documented(doc: str) -> set[str]:
    """The names of numpydoc entries ``name : ...`` and ``a, b : ...`` in a docstring."""
    names = set()
    for line in doc.splitlines():
        m = re.match(r"^\s*([\w*]+(?:\s*,\s*[\w*]+)*)\s*:(?:\s|$)", line)
        if m:
            names.update(n.strip().lstrip("*") for n in m.group(1).split(","))
    return names


def _public():
    for name in sr.__all__:
        obj = getattr(sr, name)
        if inspect.isfunction(obj) or inspect.isclass(obj) and not issubclass(obj, BaseException):
            yield name, obj


@pytest.mark.parametrize("name,obj", list(_public()), ids=[n for n, _ in _public()])
def test_every_parameter_is_documented(name, obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    wanted = {p for p, v in params.items() if p not in ("self", "cls") and v.kind not in
              (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    if inspect.isclass(obj) and target is object.__init__:
        wanted = set()
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    missing = wanted - _documented(doc)
    assert not missing, f"{name}: parameters not documented: {sorted(missing)}"


def test_the_check_would_catch_an_undocumented_parameter():
    def f(a, b):
        """Sum.

        Parameters
        ----------
        a : int
        """

    assert _documented(inspect.getdoc(f)) == {"a"}


def test_dir_lists_the_api_and_reprs_are_short():
    assert set(dir(sr)) == set(sr.__all__) | {"__version__"}
    net = sr.load_network(sr.example_path())
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    shallow = sr.build_shallow(cat)
    for obj in (net, cat, cat[0], shallow):
        text = repr(obj)
        assert len(text) < 200 and "\n" not in text, text
    assert repr(net).startswith("ReLUNetwork(2-8-8-2 network")
    assert repr(cat).startswith("Catalogue(105 regions") and "complete" in repr(cat)
