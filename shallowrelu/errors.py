"""Exceptions a user can cause, each a subclass of a built-in.

The CLI turns every one of them into a single line on stderr and a documented
exit code; anything else reaching the top level is a bug.
"""

from __future__ import annotations


class ShallowReLUError(Exception):
    """Base class of every error this package raises on purpose."""


class NetworkFormatError(ShallowReLUError, ValueError):
    """A network file or array that is not a valid ReLU network."""


class DomainError(ShallowReLUError, ValueError):
    """A domain (box or polytope) that is empty, malformed or of the wrong dimension."""


class CatalogueFormatError(ShallowReLUError, ValueError):
    """A catalogue file that is truncated, malformed or belongs to another network."""


class SolverError(ShallowReLUError, RuntimeError):
    """HiGHS returned a status that the caller cannot interpret as an answer.

    Parameters
    ----------
    message : str
        What was being solved.
    status : str
        The decoded HiGHS model status, e.g. ``"Time limit reached"``.
    """

    def __init__(self, message: str, status: str = "") -> None:
        super().__init__(f"{message} (HiGHS status: {status})" if status else message)
        self.status = status
