"""Constants and helpers of the conversion tests (the fixtures are in `conversion_fixtures`)."""

from __future__ import annotations

TOLERANCE = 1e-4  # the spec's parity tolerance for outputs; weights must be bit-exact
