"""Checks every converter runs before it writes anything: complete key coverage, bit-exact round trip, outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .checkpoint_io import ConversionError

DEFAULT_TOLERANCE = 1e-4


@dataclass
class VerificationReport:
    """The figures a conversion is judged by; `lines()` is what the command-line tools print."""

    source_tensors: int
    dropped_tensors: int
    converted_tensors: int
    round_trip_max_abs_diff: float | None = None  # None where the conversion is not invertible (inflation)
    round_trip_exact: bool | None = None
    tolerance: float = DEFAULT_TOLERANCE
    output_max_abs_diff: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        outputs_ok = all(diff <= self.tolerance for diff in self.output_max_abs_diff.values())
        return self.round_trip_exact is not False and outputs_ok

    def require_ok(self) -> None:
        """Raise (so that nothing gets written) unless every check passed."""
        if not self.ok:
            raise ConversionError("Verification failed, nothing written:\n  " + "\n  ".join(self.lines()))

    def lines(self) -> list[str]:
        lines = [
            f"tensors: {self.source_tensors} in the checkpoint, {self.converted_tensors} converted (each used "
            f"exactly once), {self.dropped_tensors} dropped (recomputed buffers, unused heads)"
        ]
        if self.round_trip_exact is not None:
            lines.append(
                f"round trip back to the original keys: max |diff| = {self.round_trip_max_abs_diff:.3g} "
                f"({'bit-exact' if self.round_trip_exact else 'NOT bit-exact'})"
            )
        for name, diff in self.output_max_abs_diff.items():
            verdict = "ok" if diff <= self.tolerance else "MISMATCH"
            lines.append(f"{name}: max |diff| = {diff:.3g} (tolerance {self.tolerance:g}) {verdict}")
        return lines


def _listing(keys: list[str], limit: int = 10) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f" ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_exactly(model: nn.Module, state_dict: Mapping[str, Tensor], source: str = "the checkpoint") -> None:
    """Load `state_dict` into `model`, requiring the same keys and shapes (ConversionError naming them otherwise)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong_shape = [
        f"{k}: {tuple(state_dict[k].shape)} in {source} vs {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensor(s) missing from {source}: {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} tensor(s) of {source} have no place in the model: {_listing(unexpected)}")
    if wrong_shape:
        problems.append(
            f"{len(wrong_shape)} shape mismatch(es) (is the architecture right? window/patch overrides?): "
            + "; ".join(wrong_shape[:6])
            + (f" ... ({len(wrong_shape) - 6} more)" if len(wrong_shape) > 6 else "")
        )
    if problems:
        raise ConversionError("Cannot load the converted weights:\n  " + "\n  ".join(problems))
    model.load_state_dict(dict(state_dict), strict=True)


def round_trip(
    original: Mapping[str, Tensor],
    model: nn.Module,
    to_original: Callable[[dict[str, Tensor]], dict[str, Tensor]],
    dropped: set[str],
) -> tuple[float, bool]:
    """Map the loaded model's weights back to the original keys; `(max |diff|, bit-exact)` over every kept tensor."""
    back = to_original(model.state_dict())
    kept = set(original) - dropped
    if set(back) != kept:
        missing, extra = sorted(kept - set(back)), sorted(set(back) - kept)
        raise ConversionError(f"Round trip lost keys {_listing(missing)} and invented keys {_listing(extra)}.")
    max_diff, exact = 0.0, True
    for key in kept:
        restored = back[key].to(original[key].dtype)
        exact &= torch.equal(restored, original[key])
        if original[key].is_floating_point() and original[key].numel():
            max_diff = max(max_diff, (restored.double() - original[key].double()).abs().max().item())
    return max_diff, exact


def load_and_verify(
    model: nn.Module,
    converted: Mapping[str, Tensor],
    source: Mapping[str, Tensor],
    back: Callable[[dict[str, Tensor]], Mapping[str, Tensor]],
    dropped: set[str],
    tolerance: float = DEFAULT_TOLERANCE,
    source_name: str = "the checkpoint",
) -> VerificationReport:
    """Load `converted` into `model` (every tensor used once) and report the round trip of its weights through
    `back` to the keys of `source` (bit-exact except for the `dropped` keys)."""
    load_exactly(model, converted, source_name)
    max_diff, exact = round_trip(source, model, back, dropped)
    return VerificationReport(
        source_tensors=len(source),
        dropped_tensors=len(dropped),
        converted_tensors=len(converted),
        round_trip_max_abs_diff=max_diff,
        round_trip_exact=exact,
        tolerance=tolerance,
    )


def max_abs_diff(actual: Tensor, expected: Tensor, name: str) -> float:
    if actual.shape != expected.shape:
        raise ConversionError(
            f"{name}: shape {tuple(actual.shape)} differs from the expected {tuple(expected.shape)}."
        )
    return (actual.double() - expected.double()).abs().max().item()


def compare_with_expected(model: nn.Module, expected: Mapping[str, Tensor]) -> dict[str, float]:
    """Max |diff| against a golden file in the fixtures' format: `pixel_values_BCTHW` (official layout) with
    `logits` and/or `backbone_features_BCTHW` (final-norm features, [B, 8C, T', H', W']).

    `model` is a `VideoSwinForVideoClassification` (or a `VideoSwinModel` when only features are compared).
    """
    if "pixel_values_BCTHW" not in expected:
        raise ConversionError(f"The expected-output file needs `pixel_values_BCTHW`; it has {sorted(expected)}.")
    pixel_values = expected["pixel_values_BCTHW"].permute(0, 2, 1, 3, 4)  # official [B,C,T,H,W] -> ours [B,T,C,H,W]
    base = getattr(model, "videoswin", model)
    diffs = {}
    with torch.no_grad():
        outputs = base(pixel_values)
        if "logits" in expected:
            logits = model.classifier(model.dropout(outputs.pooler_output))
            diffs["logits vs expected"] = max_abs_diff(logits, expected["logits"], "logits")
        if "backbone_features_BCTHW" in expected:
            features = expected["backbone_features_BCTHW"]
            ours = outputs.last_hidden_state.transpose(1, 2).reshape(features.shape)
            diffs["backbone features vs expected"] = max_abs_diff(ours, features, "backbone features")
    return diffs
