"""Command-line interface: a thin layer that parses, calls the public API, and prints.

Exit codes: 0 success; 1 bad input (file, network, domain, catalogue);
2 usage error; 3 solver failure; 4 ``check`` found a difference; 130
interrupted (what was found is saved).

The rooms: :mod:`.main` (the parser, errors to exit codes), one module per
group of commands (:mod:`.regions`: enumerate, stats, plot; :mod:`.shallow`:
convert, check, explain; :mod:`.properties`: bounds, verify; :mod:`.demo`),
and :mod:`.common` for what they share.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
