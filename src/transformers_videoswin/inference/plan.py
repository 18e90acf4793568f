"""What a video becomes: a :class:`ClipPlan` of sliding windows or of the processor's views.

- **sliding windows** (``window`` set): :func:`~transformers_videoswin.processing.sampling.sliding_window_indices`
  covers the whole video (``window`` frames every ``stride``, sampled every ``frame_interval`` frames or at ``fps``);
- **views** (no window): the processor's own sampling (``sampling``, ``num_clips`` x ``num_crops``), as the
  official test protocol.

Errors name the plan's parameters in backquotes (`` `window` ``), so that a caller can map them to its own options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..processing.sampling import LAST_WINDOW_POLICIES, frames_at_rate


class PlanError(ValueError):
    """Settings that do not make a clip plan; the message names the parameters in backquotes."""


@dataclass
class ClipPlan:
    """Which clips a video gives: sliding windows when ``window`` is set, else the processor's views."""

    window: int | None = None
    stride: int | None = None
    frame_interval: int | None = None
    fps: float | None = None
    last_window: str = "pad"
    num_frames: int | None = None
    sampling: str | None = None
    num_clips: int = 1
    num_crops: int = 1
    decode_backend: str = "auto"

    def __post_init__(self):
        if self.window is None:
            self._check_views()
            return
        if self.stride is None:
            self.stride = self.window
        if self.window < 1 or self.stride < 1:
            raise PlanError(f"`window` and `stride` must be positive, got {self.window} and {self.stride}.")
        if self.num_frames is not None and self.num_frames != self.window:
            raise PlanError(
                f"`num_frames` {self.num_frames} and `window` {self.window} disagree: a window is one clip."
            )
        if self.num_clips != 1 or self.num_crops != 1:
            raise PlanError(
                f"Sliding windows take one center crop per window; `views` {self.num_clips}x{self.num_crops} "
                "cannot be combined with `window` (use 1x1)."
            )
        if self.sampling is not None:
            raise PlanError("`sampling` chooses clips inside a video; sliding windows (`window`) cover all of it.")
        if self.fps is not None and self.frame_interval is not None:
            raise PlanError("Give either `frame_interval` or `fps` for the windows' frames, not both.")
        if self.fps is not None and not self.fps > 0:
            raise PlanError(f"`fps` must be positive, got {self.fps}.")
        if self.frame_interval is not None and self.frame_interval < 1:
            raise PlanError(f"`frame_interval` must be positive, got {self.frame_interval}.")
        if self.last_window not in LAST_WINDOW_POLICIES:
            raise PlanError(f"`last_window` must be one of {LAST_WINDOW_POLICIES}, got {self.last_window!r}.")

    def _check_views(self) -> None:
        if self.stride is not None or self.fps is not None:
            raise PlanError("`stride` and `fps` place sliding windows; give `window` too.")
        if self.num_clips > 1 and (self.sampling or "kinetics") != "kinetics":
            raise PlanError(
                f"`sampling` {self.sampling} takes one clip spread over the whole video; `views` "
                f"{self.num_clips}x{self.num_crops} asks for {self.num_clips} clips (use 1x{self.num_crops}, or "
                "kinetics sampling)."
            )

    @property
    def windows(self) -> bool:
        return self.window is not None

    def step(self) -> float:
        """Source frames between two sampled frames of a window (with ``fps``, see :meth:`sampled_frames`)."""
        return float(self.frame_interval or 1)

    def sampled_frames(self, frame_times: np.ndarray, name: str) -> np.ndarray | None:
        """With ``fps``: the frames on screen every ``1 / fps`` seconds by the frames' own timestamps
        (:func:`~transformers_videoswin.processing.sampling.frames_at_rate`), else None (every ``step`` frames)."""
        if self.fps is None:
            return None
        if not np.isfinite(frame_times).all():
            raise PlanError(
                f"Video {name} has neither frame timestamps nor a frame rate; use `frame_interval` instead of `fps`."
            )
        return frames_at_rate(frame_times, self.fps)

    def processor_kwargs(self) -> dict:
        kwargs = {
            "num_clips": self.num_clips,
            "num_crops": self.num_crops,
            "num_frames": self.num_frames,
            "sampling": self.sampling,
            "frame_interval": self.frame_interval,
            "decode_backend": self.decode_backend,
        }
        return {k: v for k, v in kwargs.items() if v is not None}

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


__all__ = ["ClipPlan", "PlanError"]
