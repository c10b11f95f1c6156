"""A Ray node's copy of the model: it was taken from ``/tmp/emotion-live-models/<sha>/``,
a path anyone could fill first, and used without a check. Now it lives in the user's
private cache and its SHA-256 is checked every time a worker loads it."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from app.batch.manifest import file_sha256
from app.batch.ray_runner import model_here
from app.system.output_files import private_folder


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "emotion-live" / "models"


def test_a_planted_copy_is_never_used_and_the_cache_is_private(cache, tmp_path, mini_xception_onnx):
    data = mini_xception_onnx.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    planted = cache / sha / "mini.onnx"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"someone else's model")
    fetched = []

    def fetch() -> bytes:
        fetched.append(True)
        return data

    path = model_here(str(tmp_path / "elsewhere" / "mini.onnx"), fetch, sha)  # not on this node
    assert path == planted and file_sha256(path) == sha and fetched == [True]
    assert model_here(str(tmp_path / "elsewhere" / "mini.onnx"), fetch, sha) == path
    assert fetched == [True]  # checked, and used without fetching again
    for folder in (cache, cache / sha):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert not str(path).startswith("/tmp/emotion-live-models")


def test_bytes_that_do_not_match_the_drivers_sha256_are_refused(cache, tmp_path):
    with pytest.raises(ValueError, match="SHA-256 differs"):
        model_here(str(tmp_path / "gone.onnx"), lambda: b"changed on the way", "0" * 64)


def test_a_private_folder_is_never_a_link(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(ValueError, match="is a link"):
        private_folder(tmp_path / "link")
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o777)
    os.chmod(open_folder, 0o777)
    assert stat.S_IMODE(os.stat(private_folder(open_folder)).st_mode) == 0o700
