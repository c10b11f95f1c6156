"""One face layout, two painters: the annotated video (OpenCV) and the window (Qt) put each
face's panel in the same place, with bars as long as the probabilities, in the colours of
``app.output.palette`` by one rule."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from PySide6.QtGui import QFont, QImage, QPainter

from app.face.quality import FaceQuality
from app.gui.overlay import FacePainter
from app.output import palette
from app.output.annotate import draw_result
from app.output.face_layout import DIMMED_BAR, Rect, layout_faces, overlap
from app.results import UNREADABLE, FaceResult, Frame, FrameResult, StageTimings
from training.data.labels import FER2013_LABELS

FRAME_SIZE = (640, 480)
PROBABILITIES = np.array([0.02, 0.03, 0.1, 0.6, 0.15, 0.06, 0.04])


def face(face_id: int, box=(100, 100, 120, 120), probabilities=PROBABILITIES) -> FaceResult:
    return FaceResult(face_id, box, {}, "mesh", FER2013_LABELS, probabilities, probabilities,
                      FaceQuality(40.0, 0.5, 1.0, 0.0, 0.0, 100.0))


def result(faces, size=FRAME_SIZE) -> FrameResult:
    """A grey frame ``size`` (width, height) large with ``faces``."""
    frame = Frame(np.full((size[1], size[0], 3), 90, np.uint8), 0, 0.0, datetime.now().astimezone())
    return FrameResult(frame, tuple(faces), "mini_xception", FER2013_LABELS, "CPUExecutionProvider",
                       StageTimings(), 30.0, 0)


def inside(rect: Rect, bounds: Rect) -> bool:
    return (bounds.x <= rect.x and rect.right <= bounds.right
            and bounds.y <= rect.y and rect.bottom <= bounds.bottom)


@pytest.mark.parametrize("text_px", [None, 12.0])
def test_panels_stay_inside_the_frame_for_faces_at_its_edges(text_px):
    width, height = FRAME_SIZE
    boxes = [(0, 0, 100, 100), (width - 100, 0, 100, 100), (0, height - 100, 100, 100),
             (width - 100, height - 100, 100, 100), (width - 60, 200, 90, 90)]  # the last partly out
    frame = Rect(0, 0, width, height)
    for box in boxes:
        (layout,) = layout_faces([face(1, box)], FRAME_SIZE, text_px=text_px)
        assert inside(layout.panel, frame), (box, layout.panel)
        assert all(inside(bar.track, layout.panel) for bar in layout.bars)


def test_neighbouring_faces_get_panels_that_cover_no_face_or_panel():
    faces = [face(1, (40, 150, 100, 100)), face(2, (330, 150, 100, 100))]
    layouts = layout_faces(faces, FRAME_SIZE, text_px=11.0)
    assert overlap(layouts) == 0
    assert layouts[0].panel.overlap_area(layouts[1].panel) == 0


def test_bars_are_as_long_as_the_probabilities():
    (layout,) = layout_faces([face(1)], FRAME_SIZE)
    assert [bar.label for bar in layout.bars] == list(FER2013_LABELS)
    assert [bar.fraction for bar in layout.bars] == pytest.approx(PROBABILITIES)
    assert [bar.fill.width / bar.track.width for bar in layout.bars] == pytest.approx(PROBABILITIES)
    assert [bar.text for bar in layout.bars] == ["2%", "3%", "10%", "60%", "15%", "6%", "4%"]
    assert [bar.top for bar in layout.bars] == [index == 3 for index in range(7)]
    assert layout.title == "#1  happy 60%"


def test_colours_follow_the_face_id_and_the_emotions():
    """The box, ID and accent in the face's colour; each bar in its emotion's, dimmed
    through the panel unless it is the emotion shown."""
    (layout,) = layout_faces([face(3)], FRAME_SIZE)
    colour = palette.face_colour_rgb(3)
    assert layout.colour == layout.identity.colour == colour
    assert layout.panel_colour == palette.PANEL_RGB
    for index, bar in enumerate(layout.bars):
        own = palette.emotion_colour_rgb(bar.label, index)
        assert bar.colour == (own if bar.top else palette.mix(own, palette.PANEL_RGB, DIMMED_BAR))
        assert bar.track_colour == palette.TRACK_RGB
        text = palette.TEXT_RGB if bar.top else palette.MUTED_TEXT_RGB
        assert bar.name.colour == bar.value.colour == text
    assert layout.caption.colour == palette.TEXT_RGB


def test_an_unreadable_face_has_dashes_and_empty_bars():
    (layout,) = layout_faces([face(2, probabilities=np.full(7, np.nan))], FRAME_SIZE)
    assert layout.title == "#2  unreadable"
    assert [bar.text for bar in layout.bars] == [UNREADABLE] * 7
    assert all(bar.fraction == 0 and bar.fill.width == 0 for bar in layout.bars)
    assert not any(bar.top for bar in layout.bars)
    assert all(np.isnan(bar.probability) for bar in layout.bars)


def test_a_text_height_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="positive"):
        layout_faces([face(1)], FRAME_SIZE, text_px=0)


def test_the_window_keeps_its_text_size_whatever_the_video_s_scale(qtbot):
    from app.gui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show_result(result([face(1, (400, 300, 300, 300))], size=(1280, 960)))  # at half size
    (layout,) = view.overlay
    assert layout.box == Rect(200, 150, 150, 150)
    assert layout.bars[0].name.size == pytest.approx(12.0)


def test_both_painters_put_the_panel_in_the_same_place(qapp):
    shown = result([face(1, (80, 120, 140, 140))])
    (layout,) = layout_faces(shown.faces, FRAME_SIZE)
    drawn = draw_result(shown)
    image = QImage(shown.frame.image.data, FRAME_SIZE[0], FRAME_SIZE[1], shown.frame.image.strides[0],
                   QImage.Format.Format_BGR888).copy()
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    FacePainter(QFont()).paint(painter, layout)
    painter.end()
    painted = np.frombuffer(image.constBits(), np.uint8).reshape(
        FRAME_SIZE[1], image.bytesPerLine())[:, :FRAME_SIZE[0] * 3].reshape(FRAME_SIZE[1], FRAME_SIZE[0], 3)

    def bounding_box(mask: np.ndarray) -> np.ndarray:
        rows, columns = np.nonzero(mask)
        return np.array([columns.min(), rows.min(), columns.max(), rows.max()])

    def where(rect: Rect) -> np.ndarray:
        return np.array([rect.x, rect.y, rect.right - 1, rect.bottom - 1])

    panels = [bounding_box((pixels < 60).all(axis=2)) for pixels in (drawn, painted)]  # darker than grey
    for panel in panels:
        assert np.abs(panel - where(layout.panel)).max() <= 2, panel
    top = next(bar for bar in layout.bars if bar.top)
    colour = np.array(palette.bgr(top.colour))
    for pixels in (drawn, painted):
        fill = bounding_box((np.abs(pixels.astype(int) - colour) <= 12).all(axis=2))
        assert np.abs(fill - where(top.fill)).max() <= 2, fill
    x, y = (round(value) for value in top.fill.center)
    for pixels in (drawn, painted):
        assert np.abs(pixels[y, x].astype(int) - colour).max() <= 12
