"""The command-line wrappers in conversion/: --help, end-to-end runs on the fixtures, refusals."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest_plugins = ["conversion_fixtures"]

SCRIPTS = Path(__file__).resolve().parents[2] / "conversion"


def run_script(name: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True, timeout=300
    )


def import_script(name: str):
    """The script as a module, to call its `main(argv)` in-process (for the cheap refusal cases)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), SCRIPTS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "option"),
    [
        ("convert_official_checkpoint.py", "--trust-checkpoint"),
        ("inflate_image_swin.py", "--image-checkpoint"),
        ("convert_torchvision_swin3d.py", "--check-input-shape"),
        ("render_model_cards.py", "--namespace"),
    ],
)
def test_help(script, option):
    completed = run_script(script, "--help")
    assert completed.returncode == 0 and option in completed.stdout and "Example" in completed.stdout


@pytest.mark.slow
def test_official_cli_converts_the_fixture(official_tiny_dir, tmp_path):
    checkpoint, golden = official_tiny_dir / "official_checkpoint.pth", official_tiny_dir / "golden.pt"
    script = "convert_official_checkpoint.py"
    completed = run_script(
        script, "--checkpoint", checkpoint, "--output-dir", tmp_path / "out", "--expected-output", golden
    )
    assert completed.returncode == 0, completed.stderr
    assert "round trip back to the original keys: max |diff| = 0 (bit-exact)" in completed.stdout
    assert "logits vs expected" in completed.stdout and "MISMATCH" not in completed.stdout
    assert json.loads((tmp_path / "out" / "config.json").read_text())["window_size"] == [2, 7, 7]


@pytest.mark.slow
def test_inflate_cli_matches_golden(official_tiny_dir, tmp_path):
    completed = run_script(
        "inflate_image_swin.py",
        "--image-checkpoint",
        official_tiny_dir / "official_2d_imagenet_checkpoint.pth",
        "--output-dir",
        tmp_path / "out",
        "--window-size",
        "2",
        "7",
        "7",
        "--num-labels",
        "5",
        "--expected-output",
        official_tiny_dir / "golden_inflated.pt",
    )
    assert completed.returncode == 0, completed.stderr
    assert "backbone features vs expected" in completed.stdout and " ok" in completed.stdout
    assert (tmp_path / "out" / "model.safetensors").is_file()


@pytest.mark.slow
def test_torchvision_cli_converts_a_checkpoint(tmp_path):
    from torchvision.models.video.swin_transformer import SwinTransformer3d

    torch.manual_seed(0)
    model = SwinTransformer3d(
        patch_size=[2, 4, 4], embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], window_size=[2, 4, 4]
    )
    torch.save(model.state_dict(), tmp_path / "swin3d.pth")
    completed = run_script(
        "convert_torchvision_swin3d.py", "--checkpoint", tmp_path / "swin3d.pth", "--output-dir", tmp_path / "out"
    )
    assert completed.returncode == 0, completed.stderr
    assert "logits vs torchvision's model" in completed.stdout and "bit-exact" in completed.stdout
    assert json.loads((tmp_path / "out" / "config.json").read_text())["id2label"]["399"] == "zumba"


def test_official_cli_refuses_a_2d_checkpoint(official_tiny_dir, tmp_path, capsys):
    main = import_script("convert_official_checkpoint.py").main
    code = main(
        ["--checkpoint", str(official_tiny_dir / "official_2d_imagenet_checkpoint.pth"), "--output-dir", str(tmp_path)]
    )
    assert code == 1 and "inflate_image_swin.py" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_official_cli_writes_nothing_on_mismatch(official_tiny_dir, golden, tmp_path, capsys):
    torch.save(dict(golden, logits=golden["logits"] * 1.01), tmp_path / "wrong.pt")
    main = import_script("convert_official_checkpoint.py").main
    args = ["--checkpoint", str(official_tiny_dir / "official_checkpoint.pth"), "--output-dir", str(tmp_path / "out")]
    assert main([*args, "--expected-output", str(tmp_path / "wrong.pt")]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out and "Verification failed" in captured.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "script", ["convert_official_checkpoint.py", "convert_torchvision_swin3d.py", "inflate_image_swin.py"]
)
def test_bad_output_dirs_are_refused_before_the_checkpoint_is_read(script, tmp_path, capsys, monkeypatch):
    """A file, a path under a file, a directory that cannot be written to and a non-empty directory (without
    --overwrite) are each refused in one line. The checkpoint named does not exist: the output check comes first."""
    main = import_script(script).main
    checkpoint_flag = "--image-checkpoint" if script == "inflate_image_swin.py" else "--checkpoint"
    missing = str(tmp_path / "not-read.pth")
    (tmp_path / "file").write_text("x")
    (tmp_path / "previous").mkdir()  # an earlier model directory
    (tmp_path / "previous" / "config.json").write_text("{}")
    (tmp_path / "previous" / "stale.bin").write_text("x")
    cases = {
        str(tmp_path / "file"): "is a file; give a directory",
        str(tmp_path / "file" / "out"): "cannot be created: .* is a file",
        str(tmp_path / "previous"): "exists and is not empty. Pass --overwrite",
    }
    for output_dir, message in cases.items():
        assert main([checkpoint_flag, missing, "--output-dir", output_dir]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and re.search(message, err), err

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("transformers_videoswin.checkpoints.hub.tempfile.TemporaryFile", refuse)
    assert main([checkpoint_flag, missing, "--output-dir", str(tmp_path / "new")]) == 1
    assert "is not writable" in capsys.readouterr().err
    monkeypatch.undo()
    # With --overwrite the output check passes, and the missing checkpoint is what is reported.
    assert main([checkpoint_flag, missing, "--output-dir", str(tmp_path / "previous"), "--overwrite"]) == 1
    assert "not-read.pth" in capsys.readouterr().err


def test_overwrite_replaces_an_earlier_conversion_and_push_needs_the_network(
    official_tiny_dir, tmp_path, capsys, monkeypatch
):
    main = import_script("convert_official_checkpoint.py").main
    checkpoint = str(official_tiny_dir / "official_checkpoint.pth")
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "pytorch_model.bin").write_text("stale weights of an earlier run")
    assert main(["--checkpoint", checkpoint, "--output-dir", str(out), "--overwrite"]) == 0
    assert not (out / "pytorch_model.bin").exists() and (out / "model.safetensors").is_file()
    capsys.readouterr()
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert main(["--checkpoint", checkpoint, "--output-dir", str(tmp_path / "o2"), "--push-to-hub", "me/m"]) == 1
    assert "needs the network, but offline mode is on" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize(
    ("contents", "reason"),
    [
        ({"src/main.py": "code", "config.json": "{}"}, r"it holds folders \(src/\)"),
        ({"notes.txt": "mine"}, "no config.json"),
    ],
)
def test_overwrite_never_clears_what_is_not_a_model_directory(contents, reason, tmp_path, capsys):
    """`--output-dir . --overwrite` in a repository, or a folder of someone's files, is refused before the checkpoint
    is read, and nothing in it is touched; the library function refuses the same way."""
    from transformers_videoswin.checkpoints import ConversionError
    from transformers_videoswin.checkpoints.hub import save_hub_directory

    out = tmp_path / "out"
    for name, text in contents.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    main = import_script("convert_official_checkpoint.py").main
    assert main(["--checkpoint", str(tmp_path / "not-read.pth"), "--output-dir", str(out), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(f"is not an earlier model directory .*{reason}", err), err
    with pytest.raises(ConversionError, match=reason):
        save_hub_directory(None, out, overwrite=True)
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == before


def test_a_directory_without_write_permission_is_refused(tmp_path, capsys):
    """The real permission check (chmod). As root, permissions do not bite, so that case is skipped there; the
    refusal itself is also covered by test_bad_output_dirs_are_refused_before_the_checkpoint_is_read."""
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes here")
        main = import_script("convert_official_checkpoint.py").main
        for output_dir in (locked, locked / "new"):
            assert main(["--checkpoint", str(tmp_path / "x.pth"), "--output-dir", str(output_dir)]) == 1
            assert "is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_push_to_hub_without_a_token_is_refused_up_front(tmp_path, capsys, monkeypatch):
    for variable in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))
    main = import_script("convert_official_checkpoint.py").main
    out = tmp_path / "out"
    assert main(["--checkpoint", str(tmp_path / "x.pth"), "--output-dir", str(out), "--push-to-hub", "me/m"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "needs a Hugging Face token" in err and not out.exists()


@pytest.mark.parametrize("script", ["convert_official_checkpoint.py", "inflate_image_swin.py"])
def test_a_bad_expected_output_is_refused_before_the_checkpoint_is_read(script, tmp_path, capsys):
    """A missing or unreadable --expected-output is reported in one line up front (the checkpoint named does not
    exist: had it been read first, that would be the error)."""
    main = import_script(script).main
    checkpoint_flag = "--image-checkpoint" if script == "inflate_image_swin.py" else "--checkpoint"
    (tmp_path / "page.pt").write_text("<html>Not Found</html>")
    for expected, message in (
        ("missing.pt", "No such file: .*missing.pt"),
        ("page.pt", "is not a PyTorch checkpoint"),
    ):
        argv = [checkpoint_flag, str(tmp_path / "not-read.pth"), "--output-dir", str(tmp_path / "out")]
        assert main([*argv, "--expected-output", str(tmp_path / expected)]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_overwrite_never_deletes_the_checkpoint_or_the_working_directory(
    official_tiny_dir, tmp_path, capsys, monkeypatch
):
    main = import_script("convert_official_checkpoint.py").main
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")  # an earlier model directory ...
    checkpoint = out / "official_checkpoint.pth"  # ... holding the checkpoint to convert
    checkpoint.write_bytes((official_tiny_dir / "official_checkpoint.pth").read_bytes())
    assert main(["--checkpoint", str(checkpoint), "--output-dir", str(out), "--overwrite"]) == 1
    assert "which --overwrite would delete" in capsys.readouterr().err and checkpoint.is_file()

    checkpoint.unlink()
    monkeypatch.chdir(out)
    fixture = str(official_tiny_dir / "official_checkpoint.pth")
    assert main(["--checkpoint", fixture, "--output-dir", ".", "--overwrite"]) == 1
    assert "which --overwrite would delete" in capsys.readouterr().err and (out / "config.json").is_file()


def test_overwrite_keeps_the_earlier_model_when_the_save_fails(official_tiny_dir, tmp_path, monkeypatch):
    """--overwrite writes the new files into a hidden folder first: a save that fails half-way (a full disk) leaves
    the earlier model as it was and nothing else; a save that succeeds replaces every earlier file."""
    from transformers_videoswin.checkpoints import hub

    main = import_script("convert_official_checkpoint.py").main
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"earlier": true}')
    (out / "pytorch_model.bin").write_text("the earlier model")

    def fail_half_way(model, output_dir, *args):
        (output_dir / "config.json").write_text("{}")
        raise OSError(28, "No space left on device")

    real_write = hub._write_hub_directory
    monkeypatch.setattr(hub, "_write_hub_directory", fail_half_way)
    args = [
        "--checkpoint",
        str(official_tiny_dir / "official_checkpoint.pth"),
        "--output-dir",
        str(out),
        "--overwrite",
    ]
    with pytest.raises(OSError, match="No space left"):
        main(args)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "pytorch_model.bin"]
    assert (out / "config.json").read_text() == '{"earlier": true}'

    monkeypatch.setattr(hub, "_write_hub_directory", real_write)
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert (
        "model.safetensors" in names and "pytorch_model.bin" not in names and not any(n.startswith(".") for n in names)
    )
    assert "earlier" not in (out / "config.json").read_text()
