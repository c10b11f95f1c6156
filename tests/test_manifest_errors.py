"""The manifest when its disk fills or its bytes are not what the batch wrote: a full disk
during the rewrite gave a traceback, no summary and a 0-byte ``manifest.csv.tmp``; a byte
that is not UTF-8 gave exit 2 with a bare codec error naming no file; a field over
128 KiB a ``_csv.Error`` traceback. Each now gets a message naming the file and what to
do, and loses nothing."""

from __future__ import annotations

import sys

from app.batch.manifest import MANIFEST_NAME
from tests.test_batch import MODEL, emotion_app, launcher, link, manifest_rows
from tests.test_hardening import full_disk  # noqa: F401 (a fixture)


def batch(clip, out, *more):
    return emotion_app("batch", clip, "--out", out, "--model", MODEL, "--max-frames", 2, *more)


def test_a_disk_that_fills_during_a_batch_ends_in_a_summary_that_says_what_to_do(
        full_disk, media_dir, tmp_path):  # noqa: F811
    folder, run = full_disk
    first = link(media_dir / "pyfeat_single_face.mp4", tmp_path / "a.mp4")
    second = link(media_dir / "fer_woman2.mp4", tmp_path / "b.mp4")
    command = " ".join(f"'{part}'" for part in [*launcher(), "batch", "--out", str(folder), "--model",
                                                MODEL, "--max-frames", "400"])
    completed = run(f"rm '{folder}/filler'; {command} '{first}' >/dev/null 2>&1; "
                    f"cp '{folder}/{MANIFEST_NAME}' '{tmp_path}/before.csv'; "
                    f"free=$(df -k '{folder}' | awk 'NR == 2 {{print $4}}'); "
                    f"head -c $(((free - 12) * 1024)) /dev/zero > '{folder}/filler'; "  # 12 KiB left
                    f"{command} '{second}'; echo exit=$?; ls -a '{folder}'; "
                    f"cp '{folder}/{MANIFEST_NAME}' '{tmp_path}/after.csv'")
    assert "exit=1" in completed.stdout, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Batch: " in completed.stdout  # the summary
    assert "Manifest: cannot write" in completed.stdout and "Free some space" in completed.stdout
    assert ".partial" not in completed.stdout and ".tmp" not in completed.stdout  # nothing left
    before = (tmp_path / "before.csv").read_bytes()
    assert (tmp_path / "after.csv").read_bytes().startswith(before)  # whole: the rows kept


def test_bytes_that_are_not_utf8_in_the_manifest_are_kept_and_name_nothing_missing(media_dir, tmp_path):
    clip = link(media_dir / "pyfeat_single_face.mp4", tmp_path / "in" / "a.mp4")
    out = tmp_path / "out"
    assert batch(clip, out).returncode == 0
    [row] = manifest_rows(out)
    other = b"/recordings/caf\xe9.mp4"  # Latin-1: another input's row, from another run
    line = b",".join([other, b"caf\xe9.csv", *(value.encode() for value in list(row.values())[2:])])
    with open(out / MANIFEST_NAME, "ab") as file:
        file.write(line + b"\n")
    completed = batch(clip, out)
    assert completed.returncode == 0, completed.stderr
    assert "0 files ok, 0 failed, 1 skipped" in completed.stdout
    assert other in (out / MANIFEST_NAME).read_bytes()  # the other row, byte for byte


def test_a_field_over_128_kib_is_named_and_the_file_as_it_was_is_kept(media_dir, tmp_path):
    clip = link(media_dir / "pyfeat_single_face.mp4", tmp_path / "in" / "a.mp4")
    out = tmp_path / "out"
    assert batch(clip, out).returncode == 0
    with open(out / MANIFEST_NAME, "a", encoding="utf-8") as file:
        file.write("/x.mp4,x.csv," + "9" * 200_000 + ",1,1.0,ok,,m,s,v,s,1,t\n")
    original = (out / MANIFEST_NAME).read_bytes()
    completed = batch(clip, out)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr and "0 files ok, 0 failed, 1 skipped" in completed.stdout
    assert f"{MANIFEST_NAME}: lines 3 could not be read" in completed.stderr
    [copy] = out.glob("manifest-unreadable-*.csv")
    assert copy.read_bytes() == original and str(copy) in completed.stderr
    assert len(manifest_rows(out)) == 1


def test_a_manifest_that_cannot_be_read_is_named(media_dir, tmp_path):
    clip = link(media_dir / "pyfeat_single_face.mp4", tmp_path / "in" / "a.mp4")
    out = tmp_path / "out"
    (out / MANIFEST_NAME).mkdir(parents=True)  # a folder by that name: reading fails
    completed = batch(clip, out)
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert f"{out / MANIFEST_NAME} cannot be read" in completed.stderr or sys.platform == "win32"
