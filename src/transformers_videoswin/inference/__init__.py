"""Dataset-scale inference: sliding-window features and classification over many long videos.

- :mod:`.sources`: the inputs (files, globs, lists, directory trees, ``datasets`` datasets);
- :mod:`.engine`: the clip plan (sliding windows or views), decoding in DataLoader workers, batched forward passes;
- :mod:`.outputs`: atomic per-video files, the index, resuming, merging index parts;
- :mod:`.runner`: one call that puts them together, sharded under torchrun / accelerate;
- :mod:`.timeline`: the per-window class probabilities of one video as a PNG.
"""

from .engine import ClipPlan, InferenceEngine, Shard, Summary, VideoClipStream
from .outputs import OutputDirectory, merge_index, read_index_parts
from .runner import run_inference, shard_from_environment
from .sources import DatasetTable, VideoEntry, expand_inputs, file_entries

__all__ = [
    "ClipPlan",
    "DatasetTable",
    "InferenceEngine",
    "OutputDirectory",
    "Shard",
    "Summary",
    "VideoClipStream",
    "VideoEntry",
    "expand_inputs",
    "file_entries",
    "merge_index",
    "read_index_parts",
    "run_inference",
    "shard_from_environment",
]
