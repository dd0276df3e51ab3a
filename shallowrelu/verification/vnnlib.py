"""VNN-LIB properties: input boxes and an unsafe output set, parsed without ``eval``.

A property is the conjunction of its ``assert`` forms over ``X_i`` (inputs)
and ``Y_j`` (outputs); it describes the *unsafe* set. It is brought into
disjunctive normal form: a list of terms, each an input box and a
conjunction of linear output constraints ``C y <= e`` (a :class:`Disjunct`).
The property is violated (``sat``) iff some input of some disjunct's box
gives an output meeting that disjunct's constraints.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np

from ..errors import ShallowReLUError

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_VAR = re.compile(r"^([XY])_(\d+)$")
# A property in DNF with more terms than this is refused rather than expanded.
_MAX_TERMS = 10_000


class VnnlibError(ShallowReLUError, ValueError):
    """A VNN-LIB file this parser cannot read, with the file and line at fault."""


@dataclass(frozen=True)
class Disjunct:
    """One disjunct of the unsafe set: ``lo <= x <= hi`` and ``C y <= e``.

    Every method of :mod:`shallowrelu.verification` decides disjuncts: ``sat``
    with an input of the box whose outputs meet every row, ``unsat`` when
    none does.

    Parameters
    ----------
    lo, hi : ndarray, shape (n,)
        The input box.
    C : ndarray, shape (k, m)
    e : ndarray, shape (k,)
        The output constraints, all of which must hold.
    """

    lo: np.ndarray
    hi: np.ndarray
    C: np.ndarray
    e: np.ndarray


Term = Disjunct
"""The name a property's disjuncts had first (``Property.terms``); the same class."""


@dataclass(frozen=True)
class Property:
    """A parsed VNN-LIB property: the unsafe set as a union of terms.

    Parameters
    ----------
    n_inputs, n_outputs : int
        The variables ``X_i`` and ``Y_j`` it declares.
    terms : tuple of Disjunct
        The disjuncts: each an input box and linear constraints ``C y <= e``.
    source : str
        Where it was read from, for messages."""

    n_inputs: int
    n_outputs: int
    terms: tuple[Disjunct, ...]
    source: str = "<memory>"


def _parse(text: str, where: str) -> list:
    """The s-expressions of a VNN-LIB text, each token with its line number."""
    stack: list[list] = [[]]
    for number, line in enumerate(text.splitlines(), 1):
        for tok in _TOKEN.findall(line.split(";", 1)[0]):
            if tok == "(":
                stack.append([])
            elif tok == ")":
                if len(stack) == 1:
                    raise VnnlibError(f"{where}: line {number}: unbalanced ')'")
                done = stack.pop()
                stack[-1].append((done, number))
            else:
                stack[-1].append((tok, number))
    if len(stack) != 1:
        raise VnnlibError(f"{where}: unbalanced '(' (the file ends inside an expression)")
    return stack[0]


def load_vnnlib(path: str | os.PathLike) -> Property:
    """Read a VNN-LIB file.

    Parameters
    ----------
    path : str or path
        The ``.vnnlib`` file (declarations, input bounds, output constraints).

    Raises
    ------
    VnnlibError
        On a syntax error, an undeclared variable or a construct outside
        input boxes and linear output constraints; the message names the
        file and line.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise VnnlibError(f"{path}: not a readable VNN-LIB file ({exc})") from None
    return parse_vnnlib(text, str(path))


def parse_vnnlib(text: str, where: str = "<memory>") -> Property:
    """Parse VNN-LIB text; see :func:`load_vnnlib`.

    Parameters
    ----------
    text : str
        The property.
    where : str
        Its name in error messages."""
    forms = _parse(text, where)
    declared = {"X": set(), "Y": set()}
    asserts = []
    for form, line in forms:
        if not isinstance(form, list) or not form:
            raise VnnlibError(f"{where}: line {line}: expected a (command ...) form")
        head = form[0][0]
        if head == "declare-const":
            if len(form) != 3 or not isinstance(form[1][0], str) or form[2][0] != "Real":
                raise VnnlibError(f"{where}: line {line}: expected (declare-const NAME Real)")
            m = _VAR.match(form[1][0])
            if m is None:
                raise VnnlibError(f"{where}: line {line}: variable {form[1][0]!r} is not X_i or Y_j")
            declared[m.group(1)].add(int(m.group(2)))
        elif head == "assert":
            if len(form) != 2:
                raise VnnlibError(f"{where}: line {line}: assert takes one expression")
            asserts.append(form[1])
        else:
            raise VnnlibError(f"{where}: line {line}: unsupported command {head!r}")
    n, m = len(declared["X"]), len(declared["Y"])
    for kind, count in (("X", n), ("Y", m)):
        if declared[kind] != set(range(count)):
            raise VnnlibError(f"{where}: {kind} variables must be {kind}_0..{kind}_{count - 1}")
    # DNF: a list of terms, each a list of atoms (kind, coefficients, bound) meaning coef . v <= bound
    dnf = [[]]
    for expr in asserts:
        terms = _dnf(expr, where, n, m)
        dnf = [a + b for a, b in product(dnf, terms)]
        if len(dnf) > _MAX_TERMS:
            raise VnnlibError(f"{where}: more than {_MAX_TERMS} disjuncts")
    return Property(n, m, tuple(_term(atoms, where, n, m) for atoms in dnf), where)


def _linear(expr, where: str, n: int, m: int):
    """A variable or a number as (kind, coefficient vector, constant)."""
    tok, line = expr
    if isinstance(tok, list):
        raise VnnlibError(f"{where}: line {line}: only variables and numbers may be compared")
    v = _VAR.match(tok)
    if v:
        kind, i = v.group(1), int(v.group(2))
        size = n if kind == "X" else m
        if i >= size:
            raise VnnlibError(f"{where}: line {line}: unknown variable {tok}")
        c = np.zeros(size)
        c[i] = 1.0
        return kind, c, 0.0
    try:
        return None, None, float(tok)
    except ValueError:
        raise VnnlibError(f"{where}: line {line}: unknown symbol {tok!r}") from None


def _dnf(expr, where: str, n: int, m: int) -> list[list]:
    """An assertion as a disjunction of conjunctions of atoms."""
    form, line = expr
    if not isinstance(form, list) or not form:
        raise VnnlibError(f"{where}: line {line}: expected an expression")
    head = form[0][0]
    if head == "and":
        out = [[]]
        for sub in form[1:]:
            out = [a + b for a, b in product(out, _dnf(sub, where, n, m))]
        return out
    if head == "or":
        return [t for sub in form[1:] for t in _dnf(sub, where, n, m)]
    if head in ("<=", ">=", "<", ">"):
        if len(form) != 3:
            raise VnnlibError(f"{where}: line {line}: {head} takes two arguments")
        (ka, ca, a0), (kb, cb, b0) = _linear(form[1], where, n, m), _linear(form[2], where, n, m)
        if ka and kb and ka != kb:
            raise VnnlibError(f"{where}: line {line}: a constraint mixes inputs and outputs")
        kind = ka or kb
        if kind is None:
            raise VnnlibError(f"{where}: line {line}: a comparison of two numbers")
        size = n if kind == "X" else m
        ca = np.zeros(size) if ca is None else ca
        cb = np.zeros(size) if cb is None else cb
        # a <= b  <=>  (a - b) <= b0 - a0 ; strict comparisons are read as non-strict
        coef, bound = (ca - cb, b0 - a0) if head in ("<=", "<") else (cb - ca, a0 - b0)
        return [[(kind, coef, bound, line)]]
    raise VnnlibError(f"{where}: line {line}: unsupported operator {head!r}")


def _term(atoms, where: str, n: int, m: int) -> Disjunct:
    """One conjunction of atoms as a :class:`Disjunct` (input box and output rows)."""
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    rows, rhs = [], []
    for kind, coef, bound, line in atoms:
        if kind == "Y":
            rows.append(coef)
            rhs.append(bound)
            continue
        nz = np.flatnonzero(coef)
        if nz.size != 1:
            raise VnnlibError(f"{where}: line {line}: input constraints must bound one variable (a box)")
        i, a = int(nz[0]), coef[nz[0]]
        if a > 0:
            hi[i] = min(hi[i], bound / a)
        else:
            lo[i] = max(lo[i], bound / a)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        missing = int(np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi)))[0])
        raise VnnlibError(f"{where}: input X_{missing} has no lower and upper bound in some disjunct")
    return Disjunct(lo, hi, np.array(rows).reshape(-1, m), np.array(rhs))
