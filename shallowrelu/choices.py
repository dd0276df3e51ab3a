"""The names of the choices the API and the command line share, in one place that imports nothing.

The command line builds its parser from these without loading the modules
that implement them, so ``shallowrelu --help`` stays instant.
"""

# Where the chunks of a search run: processes of this machine, or tasks of a Ray cluster.
BACKENDS = ("local", "ray")
# The constructions of the shallow network (docs/design.md section 2); auto picks one of the other two.
SHALLOW_MODES = ("auto", "faces", "cells")
# How verify decides a property.
VERIFY_METHODS = ("bab", "input", "neuron", "tree", "milp")
# How explain finds the nearest input with another label.
COUNTERFACTUAL_METHODS = ("catalogue", "milp")

PART_SUFFIX = ".part"
"""The chunk log of an enumeration writing ``OUT`` is ``OUT`` with this appended."""
