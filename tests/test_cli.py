"""The commands as a new user meets them: no display, ``--version``, ``--help``.

A window nobody can see used to wait forever (or Qt aborted with exit 134); these run
the real ``emotion-app`` in a subprocess, without a display, and check it says what to
run instead and exits at once.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import app
from app.gui.launch import HEADLESS_COMMAND, LaunchOptions, display_problem, has_no_display
from app.gui.settings import SETTINGS_ENV
from app.system.cli_text import installed_version, plain_text, version_text
from app.system.exit_codes import ExitCode
from tests.onnx_fixtures import fer_card, linear_model, write_model

REPO_ROOT = Path(__file__).resolve().parent.parent
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
TIMEOUT_S = 120
"""Far more than the few seconds a prompt exit takes; a hang fails instead of blocking."""

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="X11/Wayland displays are a Linux matter")


def emotion_app() -> list[str]:
    command = Path(sys.executable).with_name("emotion-app")
    return [str(command)] if command.exists() else [sys.executable, "-m", "app"]


def no_display_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without a display, with its own settings file."""
    env = {name: value for name, value in os.environ.items() if name not in DISPLAY_VARIABLES}
    return {**env, SETTINGS_ENV: str(tmp_path / "settings.ini"), **extra}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def assert_says_what_to_run(completed: subprocess.CompletedProcess) -> None:
    assert completed.returncode == ExitCode.NO_DISPLAY, completed.stderr
    assert HEADLESS_COMMAND in completed.stderr
    assert "--screenshot PATH" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "could not be initialized" not in completed.stderr  # Qt's abort, exit 134


@linux_only
def test_without_a_display_the_window_says_what_to_run_instead_and_exits(tmp_path):
    completed = run(emotion_app(), no_display_env(tmp_path))
    assert_says_what_to_run(completed)
    assert "no display" in completed.stderr
    assert completed.stdout == ""


@linux_only
def test_scripts_app_sh_without_a_display_shows_the_hint_and_exits(tmp_path):
    """app.sh as it is, over this virtual environment (its first-run setup stubbed out:
    that step installs packages)."""
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "emotion-app").exists() or shutil.which("bash") is None:
        pytest.skip("needs bash and the project installed in a virtual environment")
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "app.sh", tmp_path / "scripts" / "app.sh")
    (tmp_path / "scripts" / "bootstrap.sh").write_text("true\n")
    (tmp_path / ".venv").symlink_to(venv)
    completed = run(["bash", str(tmp_path / "scripts" / "app.sh")], no_display_env(tmp_path))
    assert_says_what_to_run(completed)
    assert "no display to open the window on" in completed.stderr  # the real reason, not offscreen's


def test_an_offscreen_window_without_an_end_says_so_and_exits(tmp_path):
    completed = run(emotion_app(), no_display_env(tmp_path, QT_QPA_PLATFORM="offscreen"))
    assert_says_what_to_run(completed)
    assert "QT_QPA_PLATFORM=offscreen" in completed.stderr
    assert "--quit-after-frames N" in completed.stderr


@linux_only
def test_a_screenshot_run_without_a_display_goes_offscreen_and_prints_where_it_went(tmp_path):
    model = write_model(tmp_path / "probe.onnx", linear_model(), fer_card())
    shot = tmp_path / "shots" / "window.png"
    completed = run([*emotion_app(), "--model", str(model), "--screenshot", str(shot)],
                    no_display_env(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert shot.is_file()
    assert completed.stdout.splitlines() == [f"Screenshot saved to {shot.resolve()}"]
    assert "running the window offscreen" in completed.stderr


@pytest.mark.parametrize(("environ", "system", "automated", "blocked"), [
    ({}, "linux", False, True),
    ({}, "linux", True, False),  # goes offscreen by itself
    ({"DISPLAY": ":0"}, "linux", False, False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False, False),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", False, False),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False, True),
    ({"QT_QPA_PLATFORM": "offscreen:fontengine=freetype"}, "linux", False, True),
    ({"QT_QPA_PLATFORM": "minimal", "DISPLAY": ":0"}, "linux", False, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True, False),
    ({}, "darwin", False, False),
    ({}, "win32", False, False),
])
def test_display_problem_blocks_only_a_window_nobody_could_see(environ, system, automated, blocked):
    options = LaunchOptions(quit_after_frames=5 if automated else 0)
    problem = display_problem(options, environ, system)
    assert (problem is not None) == blocked
    if blocked:
        assert HEADLESS_COMMAND in problem


def test_has_no_display_only_on_linux_without_any():
    assert has_no_display({}, "linux")
    assert not has_no_display({"DISPLAY": ":1"}, "linux")
    assert not has_no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not has_no_display({}, "darwin") and not has_no_display({}, "win32")


def test_emotion_app_version_is_the_installed_one(tmp_path):
    completed = run([*emotion_app(), "--version"], no_display_env(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"emotion-app {importlib.metadata.version('emotion-live')}\n"


def test_emotion_train_version_is_the_installed_one(capsys):
    pytest.importorskip("torch", reason="emotion-train needs the train extra")
    from training.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"emotion-train {installed_version()}\n"


def test_without_package_metadata_the_version_comes_from_the_package(monkeypatch):
    """A PyInstaller bundle or an uninstalled source tree has no dist-info."""
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert installed_version() == app.__version__
    assert version_text("emotion-app") == f"emotion-app {app.__version__}"


def test_plain_text_takes_off_restructuredtext_inline_markup():
    assert plain_text("``emotion-train`` (also ``python -m training``)") == (
        "emotion-train (also python -m training)")
    assert plain_text("see :mod:`app.face.steady` and `Qt`_, not ``a`b``") == (
        "see app.face.steady and Qt, not a`b")
    assert plain_text("no markup: 5 * 2") == "no markup: 5 * 2"


def test_emotion_train_help_and_every_subcommand_help_read_without_markup(capsys):
    pytest.importorskip("torch", reason="emotion-train needs the train extra")
    from training.cli import COMMANDS, main

    for argv in (["--help"], *([name, "--help"] for name in COMMANDS)):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert text.startswith("usage: emotion-train"), argv
        assert "`" not in text, f"{' '.join(argv)} prints markup:\n{text}"
        if argv == ["--help"]:
            assert "emotion-train: the training command line" in text


def test_build_script_help_reads_without_markup():
    completed = subprocess.run([sys.executable, str(REPO_ROOT / "packaging" / "build.py"), "--help"],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, completed.stderr
    assert "`" not in completed.stdout
    assert ".venv/bin/python" in completed.stdout


@pytest.mark.parametrize("option", [["--plot", "out.png"], ["--output-video", "out.mp4"], ["--realtime"],
                                    ["--max-frames", "5"]])
def test_headless_only_options_given_to_the_window_are_refused_not_ignored(option, capsys):
    from app.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["--source", "clip.mp4", *option])
    assert stopped.value.code == 2
    assert f"{option[0]} needs --headless" in capsys.readouterr().err
