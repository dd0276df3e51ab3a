"""When and how the compiled kernels of :mod:`.compiled` are called.

Owns the switch (numba installed, dimension large enough) and the wrapper
that keeps an interrupt an interrupt while numba loads a kernel. The
geometry modules ask :func:`use_compiled` and call :func:`kernel`; they never
import :mod:`.compiled` themselves, so numba is loaded only when a run needs it.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Callable

_NUMBA = importlib.util.find_spec("numba") is not None
# Below this dimension the numpy code is quick enough that loading the
# compiled kernels (about a second per process) would cost more than it saves.
_COMPILED_MIN_DIM = 3


def use_compiled(n: int) -> bool:
    """Whether the compiled kernels serve a polytope in ``n`` dimensions."""
    return _NUMBA and n >= _COMPILED_MIN_DIM


@lru_cache(maxsize=None)
def kernel(name: str) -> Callable:
    """The numba kernel ``name`` of :mod:`.compiled`, called so that an interrupt stays an interrupt.

    A Ctrl-C or SIGTERM that lands while numba loads a kernel from its cache
    (its first call in a process) comes out of the call as a SystemError
    raised from the KeyboardInterrupt; it is raised again as that
    KeyboardInterrupt, so the run stops as interrupted and keeps its regions.
    """
    from . import compiled

    fn = getattr(compiled, name)

    def call(*args):
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

