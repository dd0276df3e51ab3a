"""Generated networks against the oracles: the property test and the oracles' own checks."""
