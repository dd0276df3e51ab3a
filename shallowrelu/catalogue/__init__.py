"""The catalogue of activation regions, one concept per module.

- :mod:`.region`: :class:`Region`, one region in input coordinates;
- :mod:`.table`: the regions as flat arrays, and the accumulator the search fills;
- :mod:`.locate`: which region holds a point;
- :mod:`.certificate`: evidence that the regions cover the domain;
- :mod:`.fileformat`: the catalogue file;
- :mod:`.chunklog`: the log of finished chunks an enumeration streams to;
- :mod:`.catalogue`: :class:`Catalogue`, which ties them together.

It stores what the search found and never searches or builds networks itself;
files go through :mod:`shallowrelu.io.files`.
"""

from .catalogue import Catalogue
from .certificate import Certificate
from .chunklog import ChunkLog
from .fileformat import FORMAT
from .region import DOMAIN_FACET, Neuron, Region
from .table import RegionArrays, RegionTable

__all__ = ["DOMAIN_FACET", "FORMAT", "Catalogue", "Certificate", "ChunkLog", "Neuron", "Region", "RegionArrays",
           "RegionTable"]
