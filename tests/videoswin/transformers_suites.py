"""transformers' own common test suites, at the installed transformers version, for `test_transformers_suites.py`.

The transformers wheel ships no tests, but its sdist ships the top-level `tests/*_common.py` files (and
`test_pipeline_mixin.py`). `ensure_suites()` downloads the sdist of the *installed* version with pip, extracts those
files into a cache outside the repository, and copies in the stand-ins of `standins/` for the helper modules the
sdist lacks (each stand-in says why it is enough). Nothing is committed: the cache is
`$VIDEOSWIN_TRANSFORMERS_TESTS_DIR`, else `<virtual env>/transformers-common-tests/<version>`, else
`~/.cache/transformers-videoswin/transformers-common-tests/<version>`.

`make test` runs this file before pytest; the test module calls `ensure_suites()` too, so a plain `pytest` works. A
failed download raises `SuitesUnavailable`, which the test module turns into a failing test: never a skip.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path

STANDINS = Path(__file__).resolve().parent / "standins"
EXTRA_FILES = ("test_pipeline_mixin.py",)
COMPLETE_MARKER = ".complete"


class SuitesUnavailable(RuntimeError):
    pass


def transformers_version() -> str:
    return installed_version("transformers")


def cache_root(version: str | None = None) -> Path:
    """Folder holding `tests/` (a package) and `utils/` of transformers' sdist, for `version` (installed by default)."""
    version = version or transformers_version()
    if "VIDEOSWIN_TRANSFORMERS_TESTS_DIR" in os.environ:
        return Path(os.environ["VIDEOSWIN_TRANSFORMERS_TESTS_DIR"]) / version
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "transformers-common-tests" / version
    return Path.home() / ".cache" / "transformers-videoswin" / "transformers-common-tests" / version


def _download_common_tests(version: str, destination: Path) -> list[str]:
    """Extract `tests/*_common.py` (and `EXTRA_FILES`) of transformers' sdist `version` into `destination/tests`."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-q",
            f"transformers=={version}",
            "-d",
            tmp,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(tmp).glob("transformers-*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise SuitesUnavailable(
                f"Could not download the sdist of transformers=={version} (`{' '.join(command[2:])}`), which holds "
                f"transformers' common test suites:\n{result.stderr.strip()[-2000:]}"
            )
        names = []
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 3 and parts[1] == "tests" and member.isfile():
                    if parts[2].endswith("_common.py") or parts[2] in EXTRA_FILES:
                        target = destination / "tests" / parts[2]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(archive.extractfile(member).read())
                        names.append(parts[2])
    if "test_modeling_common.py" not in names:
        raise SuitesUnavailable(f"The sdist of transformers=={version} has no tests/test_modeling_common.py.")
    return sorted(names)


def _copy_standins(root: Path) -> None:
    for source in STANDINS.rglob("*"):
        if source.is_file() and source.name != "README.md" and "__pycache__" not in source.parts:
            target = root / source.relative_to(STANDINS)
            if not target.exists() or not filecmp.cmp(source, target, shallow=False):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)


def ensure_suites(version: str | None = None) -> Path:
    """The cache folder of `version` (installed by default), downloading and extracting it the first time."""
    version = version or transformers_version()
    root = cache_root(version)
    if not (root / COMPLETE_MARKER).exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root.parent))
        try:
            names = _download_common_tests(version, staging)
            (staging / COMPLETE_MARKER).write_text("\n".join(names) + "\n")
            if root.exists():
                shutil.rmtree(root)
            staging.rename(root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _copy_standins(root)
    return root


if __name__ == "__main__":
    location = ensure_suites()
    print(f"transformers {transformers_version()} common test suites: {location}")
