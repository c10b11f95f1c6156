"""Sources and readers on real footage, and on stand-in cameras that fail mid-run."""

import logging
import time

import cv2
import numpy as np
import pytest

from app.results import Event, EventKind, Frame
from app.sources.base import CaptureError, SourceLostError
from app.sources.cameras import list_cameras
from app.sources.capture import LatestFrameReader, SequentialReader, open_reader, open_source
from app.sources.images import ImageFolderSource
from app.sources.video import CameraSource
from tests.camera_fakes import CameraSequence, FakeCamera

GRAY_FRAME = np.full((48, 64, 3), 90, np.uint8)


def read_all(reader, limit=10_000, timeout=2.0):
    """Frames and events until the reader ends or is lost."""
    items = []
    while len(items) < limit:
        item = reader.next(timeout)
        if item is None:
            break
        items.append(item)
        if isinstance(item, Event) and item.kind in (EventKind.SOURCE_ENDED, EventKind.SOURCE_LOST):
            break
    return items


def test_video_frames_carry_index_times_and_position(media_dir):
    with SequentialReader(open_source(media_dir / "fer_test.mp4")) as reader:
        items = read_all(reader)
        frames = [item for item in items if isinstance(item, Frame)]
        assert items[-1].kind is EventKind.SOURCE_ENDED
        assert len(frames) == reader.source.frame_count == 115  # every frame, in order
        assert reader.dropped_frames == 0
    assert [f.index for f in frames] == list(range(115))
    assert frames[0].source_ms == 0.0 and frames[1].source_ms == pytest.approx(40.0, abs=1)
    assert np.all(np.diff([f.source_ms for f in frames]) > 0)
    assert np.all(np.diff([f.monotonic_s for f in frames]) >= 0)
    assert all(f.wall_time.tzinfo is not None for f in frames)
    assert frames[0].image.shape == (336, 596, 3) and frames[0].image.dtype == np.uint8


def test_hevc_video_is_decoded_or_refused_clearly(media_dir):
    path = media_dir / "pyfeat_face_noface.mov"
    try:
        source = open_source(path)
    except CaptureError as error:  # builds without an HEVC decoder
        assert "decode" in str(error)
        return
    frame = source.read()
    source.close()
    assert frame.image.shape == (540, 960, 3)


def test_a_video_with_a_codec_opencv_cannot_decode_is_refused(media_dir, tmp_path, capfd):
    """The HEVC clip with its codec tag renamed: FFmpeg finds no decoder for it."""
    data = (media_dir / "pyfeat_face_noface.mov").read_bytes()
    assert data.count(b"hvc1") == 1
    path = tmp_path / "unknown_codec.mov"
    path.write_bytes(data.replace(b"hvc1", b"zzzz"))
    with pytest.raises(CaptureError, match=r"cannot open this video \(.*decoder"):
        open_source(path)
    assert capfd.readouterr().err == ""  # FFmpeg's own complaint went to the log


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8])
def test_a_file_that_is_not_a_video_is_refused(tmp_path, content):
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match="clip.mp4: OpenCV cannot open this video"):
        open_source(path)


def test_missing_path_names_the_kinds_of_source(tmp_path):
    with pytest.raises(CaptureError, match="no such file or folder.*camera index"):
        open_source(tmp_path / "nothing.mp4")


def test_no_camera_at_the_index(capfd):
    with pytest.raises(CaptureError, match="no camera at index 99"):
        open_source(99)
    assert capfd.readouterr().err == ""


def test_stream_url_that_cannot_be_opened_hides_its_password():
    started = time.monotonic()
    with pytest.raises(CaptureError) as caught:
        open_source("rtsp://user:secret@127.0.0.1:9/stream")
    assert "secret" not in str(caught.value) and "rtsp://127.0.0.1:9/stream" in str(caught.value)
    assert time.monotonic() - started < 30


def test_image_folder_in_natural_order_skipping_unreadable_files(tmp_path, single_face_image, caplog):
    cv2.imwrite(str(tmp_path / "img10.png"), single_face_image)
    cv2.imwrite(str(tmp_path / "img2.jpg"), cv2.cvtColor(single_face_image, cv2.COLOR_BGR2GRAY))
    (tmp_path / "img3.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING), open_reader(tmp_path) as reader:
        items = read_all(reader)
    frames = [item for item in items if isinstance(item, Frame)]
    assert [f.source_file for f in frames] == ["img2.jpg", "img10.png"]
    assert all(f.image.ndim == 3 and f.image.shape[2] == 3 for f in frames)  # gray read as BGR
    assert [f.index for f in frames] == [0, 1] and frames[0].source_ms is None
    assert [p.name for p in reader.source.skipped] == ["img3.jpg"]
    assert "img3.jpg" in caplog.text
    assert not ImageFolderSource.continuous


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(CaptureError, match="no images"):
        open_source(tmp_path)


def test_camera_that_stops_is_reported_and_can_be_restarted():
    cameras = CameraSequence(FakeCamera(GRAY_FRAME, frames=5, interval_s=0.01),
                             FakeCamera(GRAY_FRAME, frames=3, interval_s=0.01))
    source = CameraSource(0, open_capture=cameras, lost_after_s=0.2)
    source.open()
    reader = LatestFrameReader(source)
    first = read_all(reader)
    assert first[-1].kind is EventKind.SOURCE_LOST and "after 5 frames" in first[-1].message
    assert reader.frames_captured == 5
    assert reader.next(0.3) is None  # lost, not crashed: the reader just waits
    reader.restart()
    second = read_all(reader)
    reader.close()
    assert second[0].kind is EventKind.SOURCE_RESTARTED
    assert second[-1].kind is EventKind.SOURCE_LOST
    indices = [item.index for item in second if isinstance(item, Frame)]
    assert indices and indices[-1] == 7  # counting goes on across the restart
    assert cameras.opened[0].released and cameras.opened[1].released


def test_newest_frame_wins_under_a_slow_consumer():
    """A 200 fps camera read by a 20 fps consumer: frames are dropped, never queued.

    Checked by counting, not by the clock, so a loaded machine that schedules the
    capture thread late cannot fail it: every frame captured is either delivered or
    counted as dropped, deliveries only move forward, and they skip frames overall (a
    queue would deliver 0, 1, 2, ...)."""
    source = CameraSource(0, open_capture=CameraSequence(FakeCamera(GRAY_FRAME, interval_s=0.005)))
    source.open()
    reader = LatestFrameReader(source)
    delivered = []
    try:
        for _ in range(15):
            delivered.append(reader.next(5.0).index)
            time.sleep(0.05)  # the slow model
    finally:
        reader.close()
    pending = reader.next(0) is not None
    assert reader.frames_captured == len(delivered) + reader.dropped_frames + pending
    assert reader.dropped_frames > 0
    assert np.all(np.diff(delivered) >= 1)
    assert delivered[-1] - delivered[0] > len(delivered) - 1


def test_a_lost_file_source_waits_instead_of_spinning(tmp_path):
    """After a non-live source is lost, ``next`` keeps the caller's timeout (a pipeline
    waiting for a restart must not spin a core)."""
    cv2.imwrite(str(tmp_path / "a.png"), GRAY_FRAME)
    source = open_source(tmp_path)

    def drive_removed():
        raise SourceLostError("the drive was removed")

    source._read_image = drive_removed
    reader = SequentialReader(source)
    assert reader.next(0.2).kind is EventKind.SOURCE_LOST
    started = time.monotonic()
    assert reader.next(0.2) is None
    assert time.monotonic() - started >= 0.15


def test_realtime_playback_is_paced_by_the_video_clock(media_dir):
    reader = open_reader(media_dir / "fer_test.mp4", realtime=True)
    started = time.monotonic()
    frames = []
    try:
        while len(frames) < 8:
            item = reader.next(1.0)
            if isinstance(item, Frame):
                frames.append(item)
    finally:
        reader.close()
    assert isinstance(reader, LatestFrameReader)
    assert time.monotonic() - started >= 0.9 * (frames[-1].source_ms - frames[0].source_ms) / 1000


def test_listing_cameras_probes_quickly_and_quietly(capfd):
    started = time.monotonic()
    cameras = list_cameras()
    assert time.monotonic() - started < 10
    assert all(camera.width > 0 for camera in cameras)
    assert capfd.readouterr() == ("", "")


def test_listing_cameras_reports_their_resolutions():
    class Factory:
        def __call__(self, index):
            camera = FakeCamera(GRAY_FRAME)
            if index > 1:
                camera.release()  # no camera there
            return camera

    cameras = list_cameras(open_capture=Factory())
    assert [c.index for c in cameras] == [0, 1]
    assert cameras[0].label == "Camera 0 (64x48)"
    assert (1280, 720) in cameras[0].resolutions


def test_video_positions_start_at_zero_and_increase(media_dir):
    """The HEVC clip reports -16.7 ms for its first frame; positions are made sane."""
    path = media_dir / "pyfeat_face_noface.mov"
    try:
        source = open_source(path)
    except CaptureError:
        pytest.skip("this OpenCV build cannot decode HEVC")
    with source:
        positions = [source.read().source_ms for _ in range(5)]
    assert positions[0] == 0.0 and np.all(np.diff(positions) > 0)
