"""Safe checkpoint loading: weights_only by default, full unpickling only when trusted, clear errors."""

from __future__ import annotations

import argparse
import json
import re

import pytest
import torch

from transformers_videoswin.checkpoints import ConversionError, convert_official_checkpoint, load_checkpoint
from transformers_videoswin.checkpoints.checkpoint_io import is_url, official_state_dict, resolve

pytest_plugins = ["conversion_fixtures"]


@pytest.fixture
def pickled_checkpoint(official_checkpoint, tmp_path):
    """The official fixture with a Python object in its meta (as mmcv training runs sometimes store)."""
    path = tmp_path / "with_namespace.pth"
    meta = dict(official_checkpoint["meta"], args=argparse.Namespace(lr=1e-3))
    torch.save({"meta": meta, "state_dict": official_checkpoint["state_dict"]}, path)
    return path


def test_objects_beyond_tensors_require_trust(pickled_checkpoint):
    with pytest.raises(
        ConversionError, match=r"`trust_checkpoint`.*arbitrary code|arbitrary code.*`trust_checkpoint`"
    ):
        load_checkpoint(pickled_checkpoint)
    assert isinstance(load_checkpoint(pickled_checkpoint, trust_checkpoint=True)["meta"]["args"], argparse.Namespace)


def test_converter_refuses_untrusted_pickles_and_converts_trusted_ones(pickled_checkpoint):
    with pytest.raises(ConversionError, match="`trust_checkpoint`"):
        convert_official_checkpoint(pickled_checkpoint)
    result = convert_official_checkpoint(pickled_checkpoint, trust_checkpoint=True)
    assert result.report.ok and result.report.round_trip_exact


def test_layouts_and_paths(official_checkpoint, tmp_path):
    state_dict, meta = official_state_dict(official_checkpoint)
    assert state_dict is official_checkpoint["state_dict"] and "config" in meta
    assert official_state_dict(state_dict) == (state_dict, {})
    with pytest.raises(ConversionError, match="Unrecognised checkpoint layout"):
        official_state_dict({"epoch": 3})
    with pytest.raises(ConversionError, match="No such checkpoint"):
        resolve(tmp_path / "missing.pth")
    assert is_url("https://github.com/x/y.pth") and not is_url(tmp_path / "y.pth")


class _Files:
    """What the test server serves: path -> (bytes, ETag), paths whose transfer stops half-way, and paths served as
    web pages (Content-Type text/html)."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, str | None]] = {}
        self.truncated: set[str] = set()
        self.pages: set[str] = set()
        self.gets = 0


@pytest.fixture
def checkpoint_server():
    import http.server
    import threading

    served = _Files()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _head(self) -> bytes | None:
            if self.path not in served.files:
                self.send_error(404)
                return None
            body, etag = served.files[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if etag is not None:
                self.send_header("ETag", etag)
            if self.path in served.pages:
                self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            return body

        def do_HEAD(self):
            self._head()

        def do_GET(self):
            served.gets += 1
            body = self._head()
            if body is not None:
                self.wfile.write(body[: len(body) // 2] if self.path in served.truncated else body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def test_download_cache_is_keyed_by_url_and_revalidated(checkpoint_server, tmp_path, monkeypatch):
    """Two URLs with one file name are two cache entries; a file changed on the server is downloaded again; offline,
    the cached file is used only while its SHA-256 matches; an interrupted transfer leaves nothing behind."""
    from transformers_videoswin.checkpoints.checkpoint_io import download

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    base, served = checkpoint_server
    served.files["/a/model.pth"] = (b"first model", '"a1"')
    served.files["/b/model.pth"] = (b"second model", '"b1"')
    cache = tmp_path / "cache"
    first, second = download(f"{base}/a/model.pth", cache), download(f"{base}/b/model.pth", cache)
    assert first.read_bytes() == b"first model" and second.read_bytes() == b"second model"
    assert download(f"{base}/a/model.pth", cache) == first and served.gets == 2  # unchanged: not downloaded again

    served.files["/a/model.pth"] = (b"first model, retrained", '"a2"')
    assert download(f"{base}/a/model.pth", cache).read_bytes() == b"first model, retrained" and served.gets == 3

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert download(f"{base}/a/model.pth", cache).read_bytes() == b"first model, retrained"
    first.write_bytes(b"first model, retrainex")  # damaged in the cache
    with pytest.raises(ConversionError, match="offline mode is on"):
        download(f"{base}/a/model.pth", cache)

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    served.files["/c/model.pth"] = (b"x" * 1000, '"c1"')
    served.truncated.add("/c/model.pth")
    with pytest.raises(ConversionError, match="Could not download .*stopped after 500 of 1000 bytes"):
        download(f"{base}/c/model.pth", cache)
    assert sorted(path.stat().st_size for path in cache.rglob("model.pth")) == [12, 22]  # a and b only


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "is not a PyTorch checkpoint"),
        ("empty", r"is empty \(0 bytes\)"),
        ("truncated", "is truncated or corrupt"),
        ("directory", "is a directory"),
    ],
)
def test_unreadable_checkpoints_get_one_line_errors(kind, message, official_tiny_dir, tmp_path, capsys):
    """Each says what is wrong and what to do, from the library and as one line from the converter (no traceback),
    and nothing is written."""
    from test_conversion_cli import import_script

    path = tmp_path / "model.pth"
    if kind == "text":
        path.write_text("<html><body>404 Not Found</body></html>\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        original = (official_tiny_dir / "official_checkpoint.pth").read_bytes()
        path.write_bytes(original[: len(original) // 2])
    else:
        path.mkdir()
    with pytest.raises(ConversionError, match=message):
        load_checkpoint(path)
    main = import_script("convert_official_checkpoint.py").main
    assert main(["--checkpoint", str(path), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err) and not (tmp_path / "out").exists()


def test_download_revalidates_each_signal_and_never_trusts_a_broken_record(checkpoint_server, tmp_path, monkeypatch):
    """A new ETag alone (same size), or a new size alone (a server without ETags), means downloading again; an
    unreadable record means downloading again instead of a traceback; a transfer stopped by Ctrl-C leaves no
    partial file and keeps the previous complete one."""
    from transformers_videoswin.checkpoints.checkpoint_io import download

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    base, served = checkpoint_server
    cache, url = tmp_path / "cache", f"{base}/m/model.pth"
    served.files["/m/model.pth"] = (b"version 1", '"v1"')
    path = download(url, cache)
    served.files["/m/model.pth"] = (b"version 2", '"v2"')  # same size, new ETag
    assert download(url, cache).read_bytes() == b"version 2" and served.gets == 2
    served.files["/m/model.pth"] = (b"version three", None)  # no ETag, new size
    assert download(url, cache).read_bytes() == b"version three" and served.gets == 3
    assert download(url, cache) == path and served.gets == 3  # unchanged: the cached file

    record = path.with_name("model.pth.json")
    assert json.loads(record.read_text())["url"] == url
    record.write_text('{"url": "' + url)  # cut short
    assert download(url, cache).read_bytes() == b"version three" and served.gets == 4
    assert json.loads(record.read_text())["size"] == len(b"version three")

    class Interrupted:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    served.files["/m/model.pth"] = (b"version four", '"v4"')
    monkeypatch.setattr("tqdm.auto.tqdm", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        download(url, cache)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pth", "model.pth.json"]
    assert path.read_bytes() == b"version three"


def test_a_cache_that_cannot_be_created_is_one_conversion_error(checkpoint_server, tmp_path, monkeypatch):
    from transformers_videoswin.checkpoints.checkpoint_io import download

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    base, served = checkpoint_server
    served.files["/m/model.pth"] = (b"weights", '"w1"')
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConversionError, match=r"Could not download .*Not a directory.*VIDEOSWIN_CACHE moves"):
        download(f"{base}/m/model.pth", tmp_path / "a-file" / "cache")
    assert served.gets == 0


@pytest.mark.parametrize("kind", ["empty", "no weights", "bad config"])
def test_inflate_refuses_a_directory_that_is_not_a_model_in_one_line(kind, tmp_path, capsys):
    """inflate_image_swin.py takes a .pth or a transformers Swin directory; any other directory is one line."""
    from test_conversion_cli import import_script

    source = tmp_path / "swin"
    source.mkdir()
    if kind == "no weights":
        (source / "config.json").write_text('{"model_type": "swin", "architectures": ["SwinModel"]}')
    elif kind == "bad config":
        (source / "config.json").write_text("{not json")
    main = import_script("inflate_image_swin.py").main
    assert main(["--image-checkpoint", str(source), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    expected = "without config.json" if kind == "empty" else "is not a loadable transformers Swin directory"
    assert expected in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.parametrize("keep", [10, 300])
def test_a_truncated_legacy_pickle_checkpoint_is_one_line(keep, trust, official_checkpoint, tmp_path, capsys):
    """torch.save's pre-zip format cut short: torch raises an EOFError without a message (or, unpickling fully, an
    UnpicklingError); both are reported as a truncated file, not an IndexError or a traceback."""
    from test_conversion_cli import import_script

    full = tmp_path / "legacy.pth"
    torch.save(official_checkpoint, full, _use_new_zipfile_serialization=False)
    path = tmp_path / "cut.pth"
    path.write_bytes(full.read_bytes()[:keep])
    with pytest.raises(ConversionError, match="is truncated or corrupt"):
        load_checkpoint(path, trust_checkpoint=trust)
    main = import_script("convert_official_checkpoint.py").main
    args = ["--checkpoint", str(path), "--output-dir", str(tmp_path / "out")] + (["--trust-checkpoint"] * trust)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is truncated or corrupt" in err and "Traceback" not in err


def test_a_web_page_or_a_missing_file_is_not_cached_as_a_checkpoint(checkpoint_server, tmp_path, monkeypatch):
    """A server that answers with a web page (a login or error page with status 200) or a 404 gets one
    ConversionError, and nothing is left in the cache to be reused on the next run."""
    from transformers_videoswin.checkpoints.checkpoint_io import download

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    base, served = checkpoint_server
    served.files["/p/model.pth"] = (b"<html><body>Sign in to continue</body></html>", '"p1"')
    served.pages.add("/p/model.pth")
    cache = tmp_path / "cache"
    with pytest.raises(ConversionError, match=r"Could not download .*sent a web page \(text/html\)"):
        download(f"{base}/p/model.pth", cache)
    with pytest.raises(ConversionError, match=r"Could not download .*404"):
        download(f"{base}/missing/model.pth", cache)
    assert not [path for path in cache.rglob("*") if path.is_file()]
