"""Atomic writes that never go through a planted symlink, and the checks of places to write."""

from __future__ import annotations

import errno
import os

import pytest

from transformers_videoswin.file_utils import (
    UnwritableLocation,
    atomic_write,
    atomic_write_text,
    check_writable_directory,
    check_writable_file,
)


def test_temporary_file_cannot_be_taken_by_a_symlink(tmp_path):
    """Someone who can write in the target folder plants a symlink at the temporary name the moment it is known
    (the race of a predictable or unlinked name): the data must still land in the target, never outside."""
    folder, outside = tmp_path / "out", tmp_path / "outside.txt"
    folder.mkdir()
    target = folder / "v.json"

    def attacked_write(tmp):
        planted = folder / tmp.name  # the temporary name, in the shared folder
        if not planted.exists() and not planted.is_symlink():
            planted.symlink_to(outside)
        tmp.write_text("data")

    atomic_write(target, attacked_write)
    assert not outside.exists()
    assert target.read_text() == "data" and not target.is_symlink()
    assert [p.name for p in folder.iterdir()] == ["v.json"]  # no temporary leftovers


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (tmp_path / "settings.json").symlink_to(outside)
    atomic_write_text(tmp_path / "settings.json", "{}")
    assert outside.read_text() == "keep" and (tmp_path / "settings.json").read_text() == "{}"


def test_written_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = atomic_write_text(tmp_path / "a.txt", "x")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_nothing(tmp_path):
    def failing(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.bin", failing)
    assert list(tmp_path.iterdir()) == []


def test_writable_checks(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnwritableLocation, match="is a file"):
        check_writable_directory(tmp_path / "file")
    with pytest.raises(UnwritableLocation, match="cannot be created"):
        check_writable_directory(tmp_path / "file" / "sub")
    with pytest.raises(UnwritableLocation, match="is a directory"):
        check_writable_file(tmp_path)
    check_writable_directory(tmp_path / "new" / "deeper")  # created later: only the parent must take a file
    check_writable_file(tmp_path / "new" / "x.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # the probe leaves nothing

    real_open = os.open

    def full_disk(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk)
    with pytest.raises(UnwritableLocation, match="No space left"):
        check_writable_directory(tmp_path)
