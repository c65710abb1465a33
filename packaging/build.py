"""Build the double-clickable app: ``python packaging/build.py`` -> ``dist/imgcls/imgcls``.

Runs PyInstaller on ``packaging/imgcls.spec`` from the repository root (work files in
``build/pyinstaller``), puts the Linux ``.desktop`` file beside the executable, and prints the
build time and the bundle size. ``--smoke`` then runs ``dist/imgcls/imgcls --smoke-test``.
Needs the ``packaging`` extra: ``.venv/bin/pip install -e '.[packaging]'``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
SPEC = PACKAGING / "imgcls.spec"
DESKTOP_FILE = PACKAGING / "imgcls.desktop"
APP_NAME = "imgcls"
SMOKE_TIMEOUT_S = 900


@dataclass(frozen=True)
class BuildResult:
    app_dir: Path
    executable: Path
    seconds: float
    size_bytes: int

    def summary(self) -> str:
        size = f"{self.size_bytes / 1e9:.2f} GB"
        return f"built {self.executable} in {self.seconds:.0f} s; bundle {size} ({self.app_dir})"


def executable_path(app_dir: Path) -> Path:
    """The app's executable inside a one-folder bundle."""
    return app_dir / (f"{APP_NAME}.exe" if sys.platform == "win32" else APP_NAME)


def folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder``, each hard-linked file once and symlinks not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        stat = path.stat()
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


def build(dist_dir: Path, work_dir: Path, *, clean: bool = False, full: bool = False) -> BuildResult:
    """Run PyInstaller on the spec; raise SystemExit with PyInstaller's status when it fails."""
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm",
               "--distpath", str(dist_dir), "--workpath", str(work_dir)]
    if clean:
        command.append("--clean")
    env = {**os.environ, "IMGCLS_BUNDLE_FULL": "1" if full else "0"}
    started = time.monotonic()
    status = subprocess.run(command, cwd=ROOT, env=env).returncode
    if status != 0:
        raise SystemExit(f"PyInstaller failed with status {status}; its log is above.")
    app_dir = dist_dir / APP_NAME
    if sys.platform.startswith("linux"):
        shutil.copy2(DESKTOP_FILE, app_dir / DESKTOP_FILE.name)
    return BuildResult(app_dir, executable_path(app_dir), time.monotonic() - started, folder_size(app_dir))


def run_smoke_test(executable: Path, cwd: Path | None = None) -> int:
    """Run the built app's ``--smoke-test`` (from another working directory than the repository)."""
    print(f"running {executable} --smoke-test", flush=True)
    return subprocess.run([str(executable), "--smoke-test"], cwd=cwd or executable.parent.parent,
                          timeout=SMOKE_TIMEOUT_S).returncode


def install_desktop_entry(app_dir: Path) -> Path:
    """Write ``~/.local/share/applications/imgcls.desktop`` pointing at this bundle (Linux menus)."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    target = data_home / "applications" / DESKTOP_FILE.name
    executable = executable_path(app_dir.resolve())
    icon = app_dir.resolve() / "_internal" / "resources" / "icons" / "imgcls-256.png"
    lines = []
    for line in DESKTOP_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f'Exec="{executable}" %f'
        elif line.startswith("Icon="):
            line = f"Icon={icon}"
        lines.append(line)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Build dist/imgcls/ with PyInstaller (packaging/imgcls.spec).")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller", help="PyInstaller work folder")
    parser.add_argument("--clean", action="store_true", help="drop PyInstaller's cache first (slower)")
    parser.add_argument("--full", action="store_true", help="no size cuts (to measure what they save)")
    parser.add_argument("--smoke", action="store_true", help="run the built app's --smoke-test afterwards")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="Linux: add the built app to the desktop's application menu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = build(args.dist.resolve(), args.work.resolve(), clean=args.clean, full=args.full)
    print(result.summary(), flush=True)
    if args.install_desktop_entry:
        print(f"desktop entry: {install_desktop_entry(result.app_dir)}")
    return run_smoke_test(result.executable) if args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
