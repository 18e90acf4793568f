"""Dataset-scale inference: sliding-window features and classification over many long videos.

- :mod:`.plan`: what a video becomes (sliding windows or the processor's views);
- :mod:`.stream`: decoding in DataLoader workers, typed items, sharding;
- :mod:`.engine`: batched forward passes over clips of many videos;
- :mod:`.outputs`: atomic per-video files, the index, resuming, merging index parts, and the sinks;
- :mod:`.runner`: one call that puts them together (:func:`run_request` from an :class:`InferenceRequest`, or
  :func:`run_inference` with a loaded model), sharded under torchrun / accelerate;
- :mod:`.timeline`: the per-window class probabilities of one video as a PNG.

The inputs (files, globs, lists, directory trees, ``datasets`` datasets) are :mod:`transformers_videoswin.data.sources`.
"""

from .engine import InferenceEngine, Summary
from .outputs import (
    DirectorySink,
    FileSink,
    MemorySink,
    OutputDirectory,
    SettingsMismatch,
    VideoResult,
    merge_index,
    read_index_parts,
)
from .plan import ClipPlan, PlanError
from .runner import InferenceRequest, RequestError, run_inference, run_request
from .stream import VideoClipStream

__all__ = [
    "ClipPlan",
    "DirectorySink",
    "FileSink",
    "InferenceEngine",
    "InferenceRequest",
    "MemorySink",
    "OutputDirectory",
    "PlanError",
    "RequestError",
    "SettingsMismatch",
    "Summary",
    "VideoClipStream",
    "VideoResult",
    "merge_index",
    "read_index_parts",
    "run_inference",
    "run_request",
]
