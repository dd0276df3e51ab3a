"""The public API as a whole: names, docstrings, reprs."""
