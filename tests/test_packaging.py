"""Clean packaging: the sdist and wheel build without a warning, and the wheel's `syncer --version` runs.

Offline: the build runs without an isolated environment (the test extra brings setuptools and build), and the
wheel goes into a fresh venv with `--no-deps`, its dependencies lent by this venv through a `.pth` line.
`make dist-check` does the same with isolated builds and a real `pip install .` from the index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from syncer import __version__

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "syncer")


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else distutils says "byte-compiling is disabled" (a `warning:` line)
    return env


def _build(tmp: Path) -> tuple[Path, str]:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: the build leaves build/ and *.egg-info behind in the tree it runs in
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, src / name)
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300, env=_quiet_env())
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel, done.stdout + done.stderr


def test_the_build_prints_no_warning_and_the_wheel_carries_the_license(tmp_path):
    wheel, output = _build(tmp_path)
    noisy = [line for line in output.splitlines() if "warning" in line.lower() or "deprecat" in line.lower()]
    assert noisy == [], "\n".join(noisy)
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"syncer-{__version__}.dist-info/METADATA").decode()
        names = z.namelist()
    assert "License-Expression: MIT" in meta
    assert f"syncer-{__version__}.dist-info/licenses/LICENSE" in names
    assert not any(n.startswith(("tests/", "demo/", "bench/")) for n in names)  # only the runtime package
    assert (tmp_path / "dist" / f"syncer-{__version__}.tar.gz").exists()


def test_the_wheel_installs_and_its_syncer_runs(tmp_path):
    wheel, _ = _build(tmp_path)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies come from this venv; a plain path line does not run its editable finder, so `syncer`
    # is imported from the wheel.
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-qq", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = subprocess.run([str(env_dir / "bin" / "syncer"), "--version"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"syncer, version {__version__}"
    where = subprocess.run([str(python), "-c", "import syncer; print(syncer.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, check=True).stdout.strip()
    assert where.startswith(site), where
