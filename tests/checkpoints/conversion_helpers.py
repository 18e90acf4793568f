"""Constants and helpers of the conversion tests (the fixtures are in `conversion_fixtures`)."""

from __future__ import annotations

TOLERANCE = 1e-4  # the spec's parity tolerance for outputs; weights must be bit-exact


def tiny_kwargs(**overrides) -> dict:
    """A small architecture different from the fixture's (other depths, heads, window)."""
    kwargs = dict(
        embed_dim=16,
        depths=(1, 2, 1, 1),
        num_heads=(1, 2, 2, 4),
        window_size=(2, 4, 4),
        num_frames=8,
        image_size=64,
        drop_path_rate=0.0,
        num_labels=3,
    )
    return {**kwargs, **overrides}
