"""When and how the compiled kernels of :mod:`.compiled` are called.

Owns the switch (numba installed and loading, dimension large enough), the
one line on stderr when numba's cache has to be filled (or numba does not
load), and the wrapper that keeps an interrupt an interrupt while numba
loads a kernel. The
geometry modules ask :func:`use_compiled` and call :func:`kernel`; they never
import :mod:`.compiled` themselves, so numba is loaded only when a run needs it.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from typing import Callable

_NUMBA = importlib.util.find_spec("numba") is not None
_COLD_NOTICE = ("shallowrelu: compiling the numba kernels for this machine, once; later runs load "
                "them from numba's cache in well under a second")
# Below this dimension the numpy code is quick enough that loading the
# compiled kernels (about a second per process) would cost more than it saves.
_COMPILED_MIN_DIM = 3


def use_compiled(n: int) -> bool:
    """Whether the compiled kernels serve a polytope in ``n`` dimensions (numba present and loading)."""
    return _NUMBA and n >= _COMPILED_MIN_DIM and _loads()


@lru_cache(maxsize=None)
def _loads() -> bool:
    """Whether numba imports here; where it does not (say, built for another numpy) the numpy code runs."""
    try:
        from . import compiled  # noqa: F401
    except Exception as exc:  # any failure to load numba means: run without it
        print(f"shallowrelu: numba does not load ({type(exc).__name__}: {exc}); the search runs without the "
              "compiled kernels, slower", file=sys.stderr, flush=True)
        return False
    return True


@lru_cache(maxsize=None)
def kernel(name: str) -> Callable:
    """The numba kernel ``name`` of :mod:`.compiled`, called so that an interrupt stays an interrupt.

    A Ctrl-C or SIGTERM that lands while numba loads a kernel from its cache
    (its first call in a process) comes out of the call as a SystemError
    raised from the KeyboardInterrupt; it is raised again as that
    KeyboardInterrupt, so the run stops as interrupted and keeps its regions.
    """
    from . import compiled

    _announce(compiled)
    fn = getattr(compiled, name)

    def call(*args):
        """The kernel, with a Ctrl-C raised inside compiled code given back as KeyboardInterrupt."""
        try:
            return fn(*args)
        except SystemError as exc:
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, KeyboardInterrupt):
                cause = cause.__cause__ or cause.__context__
            if cause is None:
                raise
            raise KeyboardInterrupt from exc
    return call


def _cold(dispatcher) -> bool:
    """Whether numba's cache has no up-to-date entry for a kernel (reads numba's cache index)."""
    try:
        return not dispatcher._cache._cache_file._load_index()
    except Exception:  # numba changed its internals: say nothing, compile as usual
        return False


@lru_cache(maxsize=None)
def _announce(compiled) -> None:
    """Once per process: if numba's cache lacks a kernel, say on stderr that it is being compiled."""
    if any(_cold(getattr(compiled, name)) for name in ("split", "leaf")):
        print(_COLD_NOTICE, file=sys.stderr, flush=True)
