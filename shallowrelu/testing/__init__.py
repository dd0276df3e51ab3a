"""What the tests, the fuzzer and the benchmark scripts share: network generators and independent oracles.

- :mod:`.nets`: random He-initialised networks, degenerate ones, and the
  fuzzer's generator;
- :mod:`.oracles`: answers computed without the enumerator or any LP
  (Zaslavsky's count, interval and polygon splitting, in floats or exact
  fractions), and the comparisons of a catalogue against them.

Nothing here imports the search: an oracle that shared code with what it
checks would check nothing (``docs/design.md`` section 5).
"""
