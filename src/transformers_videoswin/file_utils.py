"""Writing files and directories so that a reader never sees them half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], replace_contents: bool = False) -> Path:
    """Call ``write(tmp)`` on a hidden temporary path, then move the result to ``path``; returns ``path``.

    - ``path`` is not an existing directory: ``tmp`` has ``path``'s name, inside a fresh private folder beside it
      (created with ``mkdtemp``, so never through a symlink someone planted); ``write`` creates a file (or a
      directory) there, which is renamed to ``path`` in one step (a symlink at ``path`` is replaced, not followed).
    - ``path`` is an existing directory: ``tmp`` is a fresh directory inside it; ``write`` fills it, then each of its
      files replaces the file of the same name in ``path`` (with ``replace_contents``, every other file of ``path``
      is removed first, so none of the earlier ones survives).

    Whatever stops ``write`` (an error, Ctrl-C), the temporary path is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if path.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=path))  # inside: the parent may not be writable
        try:
            write(staging)
            if replace_contents:
                for entry in path.iterdir():
                    if entry != staging:
                        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            for file in sorted(staging.rglob("*")):
                if file.is_file():
                    target = path / file.relative_to(staging)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(file, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh private folder (mkdtemp: O_EXCL, mode 0700) beside `path`: nobody else can plant a symlink at the
    # temporary name, which keeps `path`'s name and suffix (writers such as matplotlib read the format from it).
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = staging / path.name
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


class UnwritableLocation(OSError):
    """A place to write that cannot take a file: a file where a folder is needed (or the reverse), a read-only or
    full filesystem."""


def check_writable_directory(path: str | os.PathLike) -> None:
    """Raise :class:`UnwritableLocation` unless ``path`` is, or can be created as, a folder that takes a file: a
    small file is written (and flushed to disk) in it, or in its nearest existing parent, and removed."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UnwritableLocation(f"{path} is a file, not a directory.")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UnwritableLocation(f"{path} cannot be created: {existing} is a file.")
    try:
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise UnwritableLocation(f"{path} cannot be written ({existing}: {error.strerror or error}).") from None


def check_writable_file(path: str | os.PathLike) -> None:
    """Raise :class:`UnwritableLocation` unless a file can be written at ``path`` (not a directory, in a folder that
    exists or can be created, and takes a file)."""
    path = Path(path)
    if path.is_dir():
        raise UnwritableLocation(f"{path} is a directory; give a file name.")
    check_writable_directory(path.parent)


__all__ = [
    "UnwritableLocation",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable_directory",
    "check_writable_file",
]
