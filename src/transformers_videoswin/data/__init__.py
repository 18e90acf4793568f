"""What training and inference share about their inputs.

- :mod:`.loading`: the dataset forms (Hub ids, local parquet, ``videofolder``, annotation lists, streamed) and the
  video column's values as decodable sources;
- :mod:`.sources`: the inputs of dataset-scale inference (files, globs, lists, directory trees, dataset rows) and
  the one list of video extensions.
"""

from . import loading, sources
from .loading import *  # noqa: F403
from .sources import *  # noqa: F403

__all__ = [*loading.__all__, *sources.__all__]
