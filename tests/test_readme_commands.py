"""Every command in the README's code blocks runs as written from the repository root
after set-up: the quick ones are run here (the placeholders in capitals filled with the
shared clips and a temporary folder), and the others' options are parsed by the real
command-line parsers and the files they read checked to exist.

A placeholder is a word in capitals (``VIDEO.mp4``, ``PHOTO.jpg``, ``RECORDINGS/``); the
README says so above its first commands.
"""

from __future__ import annotations

import glob
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.DOTALL)
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]{2,}")
"""A word in capitals: the user's own file or folder."""
OUTPUT_OPTIONS = {"--out", "--csv", "--plot", "--output-video", "--screenshot", "--json", "--out-dir",
                  "--figures"}
QUICK = ("--list-models", "--gpu-report", "--list-cameras", "--version", "--help")
"""Commands with one of these run here in seconds, offline."""
PROGRAMS = {"emotion-app", "emotion-train"}
SUBCOMMANDS = {"batch": "app.batch.command"}
"""``emotion-app``'s subcommands (``emotion-app NAME ...``) -> the module whose ``build_parser``
reads the rest: a new subcommand in the README needs its line here."""


def readme_blocks(language: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README.read_text()) if kind == language]


def commands(block: str) -> list[list[str]]:
    """Each command of a shell block as words: continuation lines joined, comments dropped,
    ``a && b`` split."""
    joined = re.sub(r"\\\n\s*", " ", block)
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            found.append(words[:cut])
            words = words[cut + 1:]
    return [words for words in found if words]


def program(words: list[str]) -> str:
    return Path(words[0]).name


def every_command() -> list[tuple[list[str], str]]:
    """(words, the block they come from) for every shell command in the README."""
    return [(words, block) for block in readme_blocks("bash") for words in commands(block)]


def test_the_readme_opens_with_the_two_set_up_commands():
    first = commands(readme_blocks("bash")[0])
    assert first == [["bash", "scripts/app.sh"], ["bash", "scripts/test.sh"]]


def test_no_command_is_a_list_of_alternatives_written_as_a_pipeline():
    for words, _ in every_command():
        for index, word in enumerate(words[:-1]):
            assert not (word == "|" and words[index + 1].startswith("-")), " ".join(words)


@pytest.mark.parametrize("words", [words for words, _ in every_command() if program(words) in PROGRAMS],
                         ids=lambda words: " ".join(words)[:80])
def test_each_commands_options_are_accepted_by_its_parser(words):
    """The real parsers read the options (nothing runs): a renamed or removed flag fails."""
    import importlib

    from app.cli import build_parser as app_parser
    from training.cli import build_parser as train_parser

    arguments = [word for word in words[1:] if word != "|"]
    arguments = arguments[:arguments.index("|")] if "|" in arguments else arguments
    if any(flag in arguments for flag in ("--version", "--help")):
        return  # these exit from argparse itself: run below
    if program(words) == "emotion-train":
        parser = train_parser()[0]
    elif arguments[:1] and arguments[0] in SUBCOMMANDS:
        parser = importlib.import_module(SUBCOMMANDS[arguments[0]]).build_parser()
        arguments = arguments[1:]
    else:
        parser = app_parser()
    expanded = [match for word in arguments for match in (sorted(glob.glob(word, root_dir=REPO_ROOT))
                                                           if "*" in word else [word])]
    parser.parse_args(expanded)  # SystemExit(2) naming the unknown option


def test_the_files_a_command_reads_exist_or_are_marked_as_placeholders():
    """A path is a placeholder, an output, something an earlier command of the block wrote
    (a run folder, the bundle), or a file of the repository or of ../shared/data."""
    missing = []
    for block in readme_blocks("bash"):
        written: list[str] = []
        for words in commands(block):
            outputs = [word for index, word in enumerate(words)
                       if index and words[index - 1] in OUTPUT_OPTIONS]
            for word in words:
                is_path = "/" in word or re.search(r"\.(mp4|onnx|pt|json|jpg|png|csv|npz|sh|py)$", word)
                if (not is_path or word.startswith(("-", "http", "rtsp", ".venv/")) or word in outputs
                        or PLACEHOLDER.search(word)
                        or any(word.startswith(earlier.rstrip("/")) for earlier in written)):
                    continue
                exists = glob.glob(word, root_dir=REPO_ROOT) if "*" in word else (REPO_ROOT / word).exists()
                if not exists:
                    missing.append(f"{word} in: {' '.join(words)}")
            written += outputs + (["dist/"] if "packaging/build.py" in words else [])
    assert not missing, "\n".join(missing)


def run_here(words: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """A command as the README writes it, with the installed programs of this environment."""
    name = program(words)
    executable = Path(sys.executable).with_name(name)
    launcher = [str(executable)] if executable.exists() else [sys.executable, "-m",
                                                               {"emotion-app": "app"}.get(name, "training")]
    return subprocess.run([*launcher, *words[1:]], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("words", [words for words, _ in every_command()
                                   if program(words) in PROGRAMS and (set(words) & set(QUICK) or
                                                                      words[1:] == ["models"])],
                         ids=lambda words: " ".join(words))
def test_the_quick_commands_run_as_written(words):
    done = run_here(words)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and done.stdout.strip()


def test_a_listing_cut_short_by_head_ends_without_a_traceback():
    executable = Path(sys.executable).with_name("emotion-app")
    done = subprocess.run(f"{shlex.quote(str(executable))} --list-models | head -1", shell=True,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("Models")
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_the_quick_start_headless_command_runs_with_a_real_clip(media_dir, tmp_path):
    """The README's headless example, its placeholders filled: a shared clip in, files out."""
    (words,) = [words for words, _ in every_command()
                if program(words) == "emotion-app" and "--headless" in words and "--plot" in words
                and "--output-video" not in words]
    filled = [str(media_dir / "fer_test.mp4") if word == "VIDEO.mp4"
              else str(tmp_path / word) if PLACEHOLDER.search(word) else word for word in words]
    done = run_here(filled, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "VIDEO.csv").stat().st_size > 0 and (tmp_path / "VIDEO.png").stat().st_size > 0


def test_the_python_examples_parse_and_name_their_placeholders():
    for block in readme_blocks("python"):
        compile(block, "README.md", "exec")
        quoted = re.findall(r'"([^"]+\.(?:jpg|mp4|csv|html))"', block)
        assert quoted and all(PLACEHOLDER.search(name) for name in quoted), quoted


def test_the_python_api_example_runs_with_a_real_photo(media_dir, tmp_path):
    block = readme_blocks("python")[0]
    assert "PHOTO.jpg" in block
    script = block.replace("PHOTO.jpg", str(media_dir / "single_face.jpg"))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1  # the portrait's one face
