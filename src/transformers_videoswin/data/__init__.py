"""What training and inference share about their inputs.

- :mod:`.loading`: the dataset forms (Hub ids, local parquet, ``videofolder``, annotation lists, streamed) and the
  video column's values as decodable sources;
- :mod:`.sources`: the inputs of dataset-scale inference (files, globs, lists, directory trees, dataset rows) and
  the one list of video extensions.
"""

from .loading import (
    label_names_from_features,
    load_annotation_lists,
    load_video_dataset,
    prepare_video_column,
    read_annotation_list,
    read_label_names,
    resolve_video_source,
)
from .sources import LIST_EXTENSIONS, VIDEO_EXTENSIONS, DatasetTable, VideoEntry, expand_inputs, file_entries

__all__ = [
    "LIST_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "DatasetTable",
    "VideoEntry",
    "expand_inputs",
    "file_entries",
    "label_names_from_features",
    "load_annotation_lists",
    "load_video_dataset",
    "prepare_video_column",
    "read_annotation_list",
    "read_label_names",
    "resolve_video_source",
]
