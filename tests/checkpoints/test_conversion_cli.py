"""The command-line wrappers in conversion/: --help, end-to-end runs on the fixtures, refusals."""

from __future__ import annotations

import json
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


def test_official_cli_converts_the_fixture(official_tiny_dir, tmp_path):
    completed = run_script(
        "convert_official_checkpoint.py",
        "--checkpoint",
        official_tiny_dir / "official_checkpoint.pth",
        "--output-dir",
        tmp_path / "out",
        "--expected-output",
        official_tiny_dir / "golden.pt",
    )
    assert completed.returncode == 0, completed.stderr
    assert "round trip back to the original keys: max |diff| = 0 (bit-exact)" in completed.stdout
    assert "logits vs expected" in completed.stdout and "MISMATCH" not in completed.stdout
    assert json.loads((tmp_path / "out" / "config.json").read_text())["window_size"] == [2, 7, 7]


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
