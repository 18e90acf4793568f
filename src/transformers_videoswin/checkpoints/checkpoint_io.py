"""Reading checkpoints safely: local paths or URLs, `torch.load(weights_only=True)` unless the user trusts the file."""

from __future__ import annotations

import os
import pickle
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch


class ConversionError(ValueError):
    """A checkpoint cannot be converted as asked; the message says why and what to do instead."""


def rename_keys(
    state_dict: Mapping[str, torch.Tensor], translate: Callable[[str], str | None], unknown_message: str
) -> dict[str, torch.Tensor]:
    """Rename every key with `translate`; keys it maps to None are collected and reported in one ConversionError."""
    converted, unknown = {}, []
    for key, tensor in state_dict.items():
        new_key = translate(key)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = tensor
    if unknown:
        shown = ", ".join(sorted(unknown)[:8])
        more = f" ... ({len(unknown) - 8} more)" if len(unknown) > 8 else ""
        raise ConversionError(f"{len(unknown)} key(s) {unknown_message}: {shown}{more}")
    return converted


def default_cache_dir() -> Path:
    """Where downloaded checkpoints are kept (`$VIDEOSWIN_CACHE`, else `~/.cache/transformers_videoswin`)."""
    return Path(os.environ.get("VIDEOSWIN_CACHE", Path.home() / ".cache" / "transformers_videoswin"))


def is_url(path_or_url: str | os.PathLike) -> bool:
    return urllib.parse.urlparse(str(path_or_url)).scheme in ("http", "https")


def download(url: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Download `url` once into the cache (with a progress bar) and return the local file."""
    target = Path(cache_dir or default_cache_dir()) / Path(urllib.parse.urlparse(url).path).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            from tqdm.auto import tqdm

            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ConversionError(
            f"Could not download {url}: {error}. Download it manually and pass the local path."
        ) from error
    shutil.move(partial, target)
    return target


def resolve(path_or_url: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local path for a path or URL; raises ConversionError when the file does not exist."""
    path = download(str(path_or_url), cache_dir) if is_url(path_or_url) else Path(path_or_url)
    if not path.exists():
        raise ConversionError(f"No such checkpoint: {path}")
    return path


def load_checkpoint(path: str | os.PathLike, trust_checkpoint: bool = False) -> Any:
    """`torch.load` on CPU with `weights_only=True`; full unpickling only when `trust_checkpoint` is set.

    Unpickling can run arbitrary code, so it is refused by default; the released Video Swin files load without it
    (they hold tensors, numbers and strings only).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not trust_checkpoint:
            raise ConversionError(
                f"{path} holds Python objects beyond tensors, numbers and strings, so it cannot be read with "
                "torch.load(weights_only=True). Loading it fully means unpickling, which can execute arbitrary "
                "code from the file. If you trust where it came from, pass --trust-checkpoint "
                f"(trust_checkpoint=True). Details: {str(error).splitlines()[0]}"
            ) from error
    return torch.load(path, map_location="cpu", weights_only=False)


def official_state_dict(checkpoint: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """`(state_dict, meta)` of a loaded official video checkpoint (`{'meta', 'state_dict'}` or a bare state dict)."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        return checkpoint["state_dict"], checkpoint.get("meta") or {}
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        return checkpoint["model"], {}
    if isinstance(checkpoint, dict) and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint, {}
    raise ConversionError(
        "Unrecognised checkpoint layout: expected {'meta': ..., 'state_dict': ...} or a plain state dict, got "
        f"{type(checkpoint).__name__} with keys {list(checkpoint)[:8] if isinstance(checkpoint, dict) else '-'}."
    )
