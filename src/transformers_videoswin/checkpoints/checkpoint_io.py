"""Reading checkpoints safely: local paths or URLs, `torch.load(weights_only=True)` unless the user trusts the file."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pickle
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import is_offline_mode

from ..file_utils import atomic_write, atomic_write_text


class ConversionError(ValueError):
    """A checkpoint cannot be converted as asked; the message says why and what to do instead, naming parameters in
    backquotes (`` `output_dir` ``)."""

    def in_flags(self, options: Iterable[str]) -> str:
        """The message for a command line whose option ``--a-b`` sets each parameter ``a_b`` of ``options``."""
        message = str(self)
        for name in options:
            message = message.replace(f"`{name}`", "--" + name.replace("_", "-"))
        return message


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remote_version(url: str) -> dict[str, Any] | None:
    """`{"size", "etag"}` from a HEAD request, or None when the server cannot be asked (offline, no network)."""
    if is_offline_mode():
        return None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
            size = response.headers.get("Content-Length")
            return {"size": int(size) if size else None, "etag": response.headers.get("ETag")}
    except (OSError, ValueError, http.client.HTTPException):
        return None


def _read_record(path: Path) -> dict[str, Any] | None:
    """The cache record beside a downloaded file, or None when it is missing or unreadable."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def download(url: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The file at `url`, downloaded once into the cache (with a progress bar), and downloaded again when the server
    has changed it.

    Files are cached by URL (two URLs ending in the same file name are two entries), beside a `.json` record of the
    URL, size, ETag and SHA-256. A cached file is used while a HEAD request reports the same size and ETag, or, when
    the server cannot be asked (offline), while its SHA-256 still matches the record. A download goes to a
    temporary file that is renamed into place only once complete and of the announced size; the record is written
    last (atomically too), so an interrupted download or record means downloading again, never a wrong file.
    (`torch.hub.download_url_to_file` is not used: it reports neither the ETag nor a transfer that stops early.)"""
    name = Path(urllib.parse.urlparse(url).path).name or "checkpoint.pth"
    folder = Path(cache_dir or default_cache_dir()) / hashlib.sha256(url.encode()).hexdigest()[:16]
    target, record_path = folder / name, folder / f"{name}.json"
    record = _read_record(record_path) if target.is_file() else None
    if record is not None:
        remote = _remote_version(url)
        if remote is None:
            if _sha256(target) == record.get("sha256"):
                return target
        elif remote["size"] in (None, record.get("size")) and remote["etag"] == record.get("etag"):
            return target
    if is_offline_mode():
        raise ConversionError(
            f"Cannot download {url}: offline mode is on (HF_HUB_OFFLINE) and it is not in the cache {folder}. "
            "Download it yourself and pass the local path, or unset HF_HUB_OFFLINE."
        )
    etag = None

    def fetch(partial: Path) -> None:
        nonlocal etag
        from tqdm.auto import tqdm

        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            if response.headers.get_content_type() == "text/html":  # a login or error page answered with 200
                raise OSError("the server sent a web page (text/html), not a checkpoint; check the URL")
            total = int(response.headers.get("Content-Length") or 0) or None
            etag = response.headers.get("ETag")
            with tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        size = os.path.getsize(partial)
        if total is not None and size != total:
            raise OSError(f"the transfer stopped after {size} of {total} bytes")
        record_path.unlink(missing_ok=True)  # the old record must not vouch for the new file

    try:
        atomic_write(target, fetch)  # whatever stops the transfer (Ctrl-C included), no partial file stays behind
        record = {"url": url, "size": target.stat().st_size, "etag": etag, "sha256": _sha256(target)}
        atomic_write_text(record_path, json.dumps(record, indent=2))  # a file without its record is never trusted
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise ConversionError(
            f"Could not download {url} into {folder}: {error}. Try again (VIDEOSWIN_CACHE moves the cache), or "
            "download it yourself and pass the local path."
        ) from None
    return target


def resolve(path_or_url: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local path for a path or URL; raises ConversionError when the file does not exist."""
    path = download(str(path_or_url), cache_dir) if is_url(path_or_url) else Path(path_or_url)
    if not path.exists():
        raise ConversionError(f"No such checkpoint: {path}. Give the path of a .pth file or an http(s) URL.")
    return path


def check_checkpoint_file(path: str | os.PathLike) -> None:
    """Refuse, with a ConversionError that says what to do, what `torch.load` cannot read: a missing path, a
    directory, an empty file, a file that is neither torch's zip format nor a pickle (a web page saved by mistake,
    for example)."""
    path = Path(path)
    if not path.exists():
        raise ConversionError(f"No such file: {path}. Check the path.")
    if path.is_dir():
        raise ConversionError(f"{path} is a directory; give the checkpoint file (.pth) inside it.")
    size = path.stat().st_size
    if size == 0:
        raise ConversionError(f"{path} is empty (0 bytes): the download or copy did not finish. Get the file again.")
    with open(path, "rb") as f:
        head = f.read(64)
    if not head.startswith(b"PK\x03\x04") and head[:1] != b"\x80":  # torch.save's zip, or a legacy pickle
        preview = head[:32].decode("utf-8", "replace").splitlines()[0] if head else ""
        raise ConversionError(
            f"{path} is not a PyTorch checkpoint (it starts with {preview!r}); expected a .pth written by torch.save. "
            "If it was downloaded, the server may have sent an error page: download it again."
        )


def load_checkpoint(path: str | os.PathLike, trust_checkpoint: bool = False) -> Any:
    """`torch.load` on CPU with `weights_only=True`; full unpickling only when `trust_checkpoint` is set.

    Unpickling can run arbitrary code, so it is refused by default; the released Video Swin files load without it
    (they hold tensors, numbers and strings only). Files `torch.load` cannot read get a ConversionError that says
    what is wrong (see `check_checkpoint_file`; a truncated file is reported as such).
    """
    check_checkpoint_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not trust_checkpoint:
            raise ConversionError(
                f"{path} holds Python objects beyond tensors, numbers and strings, so it cannot be read with "
                "torch.load(weights_only=True). Loading it fully means unpickling, which can execute arbitrary "
                "code from the file. If you trust where it came from, pass `trust_checkpoint`. "
                f" Details: {_first_sentence(error)}"
            ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise _unreadable(path, error) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise _unreadable(path, error) from None


def _first_sentence(error: BaseException) -> str:
    """The first sentence of an error's message (torch's go on for several), or its type when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0].split(". ")[0] if lines else type(error).__name__


def _unreadable(path: str | os.PathLike, error: BaseException) -> ConversionError:
    return ConversionError(
        f"{path} is truncated or corrupt ({_first_sentence(error)}); the download or copy did not finish. "
        "Get the file again."
    )


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
