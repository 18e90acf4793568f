"""The inputs of dataset-scale inference: lists, spellings of one file, and output keys."""

from __future__ import annotations

import os

from transformers_videoswin.data.sources import DatasetTable, expand_inputs, file_entries


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"video")
    return path


def test_list_entries_resolve_against_the_list_folder(tmp_path, monkeypatch):
    """A relative entry names the file beside the list, even when the working directory has one of that name."""
    beside = _touch(tmp_path / "lists" / "x.mp4")
    _touch(tmp_path / "elsewhere" / "x.mp4")
    (tmp_path / "lists" / "videos.txt").write_text("x.mp4\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert expand_inputs([str(tmp_path / "lists" / "videos.txt")]) == [str(beside)]


def test_one_file_under_several_spellings_is_one_video(tmp_path, monkeypatch):
    video = _touch(tmp_path / "v.mp4")
    (tmp_path / "link.mp4").symlink_to(video)
    monkeypatch.chdir(tmp_path)
    assert expand_inputs(["v.mp4", "./v.mp4", str(video), "link.mp4", "sub/../v.mp4"]) == ["v.mp4"]


def test_csv_list_header_is_not_a_video(tmp_path):
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "b,c.mp4")
    (tmp_path / "videos.csv").write_text('video,label\na.mp4,3\n"b,c.mp4",4\n')
    assert expand_inputs([str(tmp_path / "videos.csv")]) == [str(tmp_path / "a.mp4"), str(tmp_path / "b,c.mp4")]
    (tmp_path / "plain.csv").write_text("a.mp4,3\nb.mp4,4\n")  # no header: the first line is a video
    assert expand_inputs([str(tmp_path / "plain.csv")]) == [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]


def test_keys_are_distinct_and_do_not_depend_on_the_order(tmp_path):
    """Files sharing a name keep their extension, hidden names become visible (the run's own files are hidden),
    URLs with one name get a digest; reversing the list gives every video the same key."""
    videos = [
        str(tmp_path / "a" / "x.mp4"),
        str(tmp_path / "a" / "x.avi"),
        str(tmp_path / "b" / "x.mp4"),
        str(tmp_path / "a" / ".videoswin" / "settings.mp4"),
        str(tmp_path / "a" / "y.mp4"),
        "https://host/one/clip.mp4",
        "https://host/two/clip.mp4",
    ]
    forward = {e.name: e.key for e in file_entries(videos)}
    backward = {e.name: e.key for e in file_entries(videos[::-1])}
    assert forward == backward
    assert len(set(forward.values())) == len(videos)
    assert forward[videos[0]] == "a/x.mp4" and forward[videos[1]] == "a/x.avi" and forward[videos[2]] == "b/x"
    assert forward[videos[3]] == "a/_videoswin/settings" and forward[videos[4]] == "a/y"
    assert all(not part.startswith(".") for key in forward.values() for part in key.split("/"))
    assert forward[videos[5]].startswith("clip.mp4-") and forward[videos[6]].startswith("clip.mp4-")


def test_dataset_rows_are_named_and_identified_by_split(tmp_path):
    train, test = DatasetTable(str(tmp_path), split="train"), DatasetTable(str(tmp_path), split="test[:10%]")
    assert train.key(42) == "train/00000042" and test.key(42) == "test__10__/00000042"
    assert train.identity(3, b"abc") != test.identity(3, b"abc")
    assert train.identity(3, b"abc")["dataset"] == os.path.realpath(tmp_path)
    assert train.identity(3, b"abc") != train.identity(3, b"abd")  # the row's bytes
