"""Writing files and directories so that a reader never sees them half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], replace_contents: bool = False) -> Path:
    """Call ``write(tmp)`` on a hidden temporary path, then move the result to ``path``; returns ``path``.

    - ``path`` is not an existing directory: ``tmp`` is beside it and ``write`` creates a file (or a directory) there,
      which is renamed to ``path`` in one step.
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
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    tmp = Path(name)
    tmp.unlink()  # `write` creates it (a file or a directory)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]
