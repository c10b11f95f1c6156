"""Nothing leaves the machine and no compiler runs at start-up: the app under ``strace``,
and ONNX Runtime's telemetry off wherever onnxruntime loads (the app, the training
package, the test suite's own processes and the bundle).

ONNX Runtime's official builds look up a Microsoft telemetry host some 9 s after they
load and keep a device ID and queued events under ``~/.cache/Microsoft/DeveloperTools/
.onnxruntime/`` from the first import. Each check runs as a user who never ran the app
(a fresh HOME), without the test suite's own telemetry switch, so the code under test
must turn it off itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.system.logs import LOG_ENV
from tests.conftest import REPO_ROOT

STRACE = shutil.which("strace")
needs_strace = pytest.mark.skipif(STRACE is None, reason="needs strace (bash scripts/bootstrap.sh dev "
                                                         "installs it, or apt-get install strace)")
SYSCALL = re.compile(r"^\d+\s+(\w+)\(")


def fresh_user(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items()
           if name not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    return {**env, "HOME": str(home), LOG_ENV: str(tmp_path / "app.log")}


def telemetry_files(env: dict[str, str]) -> list[Path]:
    return [path for path in Path(env["HOME"]).rglob("*") if ".onnxruntime" in path.parts]


@pytest.fixture(scope="module")
def traced_run(tmp_path_factory, media_dir, mini_xception_onnx):
    """A headless run under strace (network calls and programs started), paced like a
    camera through fer_woman2.mp4 (15 s) so it outlasts the telemetry's delay."""
    if STRACE is None:
        pytest.skip("needs strace")
    folder = tmp_path_factory.mktemp("traced")
    env, trace = fresh_user(folder), folder / "trace.txt"
    completed = subprocess.run(
        [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=network,execve", "-o", str(trace),
         sys.executable, "-m", "app", "--headless", "--realtime", "--source",
         str(media_dir / "fer_woman2.mp4"), "--model", str(mini_xception_onnx), "--csv",
         str(folder / "t.csv")], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    calls = [line for line in trace.read_text().splitlines() if SYSCALL.match(line)]
    return calls, env


@needs_strace
def test_a_run_makes_no_network_call_and_keeps_no_telemetry(traced_run):
    calls, env = traced_run
    network = [line for line in calls if SYSCALL.match(line)[1] != "execve"
               and not line.split("(", 1)[1].startswith("AF_UNIX")]  # socketpair: local pipes
    assert network == [], "the app reached for the network"  # e.g. a DNS lookup on port 53
    assert telemetry_files(env) == []


@needs_strace
def test_start_up_runs_no_other_program(traced_run):
    """mediapipe's audio import ran ldconfig 3 times, gcc 3 times and ld 6 times (looking
    for PortAudio), and its plotting import fc-list on a fresh account."""
    calls, _ = traced_run
    programs = [line for line in calls if SYSCALL.match(line)[1] == "execve"]
    assert len(programs) == 1, programs[1:5]  # the interpreter itself, nothing after it


@pytest.mark.parametrize("where, code", [
    ("the app", "import app, onnxruntime"),
    ("the training package", "import training, onnxruntime"),
    ("the bundle", "import runpy; runpy.run_path('packaging/runtime_hook_no_telemetry.py'); "
                   "import onnxruntime"),
])
def test_loading_onnxruntime_keeps_no_telemetry(where, code, tmp_path):
    env = fresh_user(tmp_path)
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True, timeout=120)
    assert telemetry_files(env) == [], f"onnxruntime loaded by {where} wrote telemetry"


def test_processes_the_tests_start_send_no_telemetry(tmp_path):
    """conftest.py sets the switch before any test imports onnxruntime, and what the tests
    start inherits it: even a bare ``import onnxruntime`` keeps nothing."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache")}
    subprocess.run([sys.executable, "-c", "import onnxruntime"], env=env, check=True, timeout=120)
    assert telemetry_files(env) == []


LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "(::1|::ffff:127\.)')
INTERNET = re.compile(r"AF_INET6?\b")


@needs_strace
@pytest.mark.slow
def test_a_local_ray_instance_sends_nothing_and_listens_on_loopback_only(
        tmp_path, media_dir, mini_xception_onnx):
    """``batch --ray local`` under strace: Ray's dashboard process asked the cloud metadata
    address (169.254.169.254, metadata.google.internal), the driver and a Ray process
    connected to 8.8.8.8:53 to learn the node's address, every server listened on all
    interfaces, and ``~/.ray/auth_token`` was written readable by every user."""
    pytest.importorskip("ray", reason="the --ray path needs ray: pip install '.[cluster]' (or the dev extra)")
    env, trace = fresh_user(tmp_path), tmp_path / "trace.txt"
    completed = subprocess.run(
        [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,bind,sendto,sendmsg",
         "-o", str(trace), sys.executable, "-m", "app", "batch", str(media_dir / "pyfeat_single_face.mp4"),
         "--out", str(tmp_path / "out"), "--ray", "local", "--workers", "1", "--max-frames", "2",
         "--model", str(mini_xception_onnx)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    calls = [line for line in trace.read_text().splitlines() if SYSCALL.match(line)]
    assert any(LOOPBACK.search(line) for line in calls), "the trace saw none of Ray's own sockets"
    elsewhere = [line for line in calls if INTERNET.search(line) and not LOOPBACK.search(line)]
    assert elsewhere == [], "Ray reached or listened beyond loopback"  # 0.0.0.0, ::, 8.8.8.8, 169.254...
    dns = [line for line in calls if "htons(53)" in line]
    assert dns == [], "a DNS query (a local resolver passes it on)"
    assert not (Path(env["HOME"]) / ".ray" / "auth_token").exists()
