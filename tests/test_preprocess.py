"""The one face-to-tensor path, shared by training crops and live frames."""

import dataclasses

import cv2
import numpy as np
import pytest

from app.face.alignment import AlignmentTemplate
from app.face.landmarks import Face
from app.face.preprocess import PreprocessSpec, crop_face, crops_to_batch, prepare_crop, to_tensor
from tests.onnx_fixtures import fer_card
from tests.test_alignment import _framing_similarity


def _spec(**changes) -> PreprocessSpec:
    return fer_card(**changes).preprocess


def test_spec_comes_from_the_card():
    spec = _spec(input_size=(64, 64), gamma=False)
    assert spec.input_size == (64, 64) and spec.channels == 1 and not spec.gamma
    assert spec.template.template_id == "fer2013-mesh-v1"


def test_the_spec_stays_plain_data_and_its_template_is_read_once(monkeypatch):
    """Training saves ``vars(spec)`` in checkpoints: the template must not land there; and
    a spec made per frame (gamma switched off) must not parse the template again."""
    spec = _spec()
    assert spec.template is spec.template
    assert "template" not in vars(spec)
    assert all(isinstance(value, (tuple, int, float, str, bool)) for value in vars(spec).values())
    parsed = []
    monkeypatch.setattr(AlignmentTemplate, "from_json",
                        classmethod(lambda cls, text: parsed.append(text)))
    for _ in range(5):
        assert dataclasses.replace(spec, gamma=False).template is spec.template
    assert parsed == []


def test_dataset_crop_is_resized_and_normalised():
    crop = np.full((48, 48), 128, np.uint8)
    spec = _spec(input_size=(64, 64), gamma=False)
    prepared = prepare_crop(crop, spec)
    assert prepared.shape == (64, 64, 1) and prepared.dtype == np.uint8
    tensor, gamma = to_tensor(prepared, spec)
    assert tensor.shape == (1, 64, 64) and tensor.dtype == np.float32 and gamma == 1.0
    np.testing.assert_allclose(tensor, (128 / 255 - 0.5) / 0.25, atol=1e-6)


def test_gamma_is_applied_only_when_the_card_asks():
    dark = np.full((48, 48, 1), 40, np.uint8)
    with_gamma, gamma = to_tensor(dark, _spec(gamma=True))
    without, no_gamma = to_tensor(dark, _spec(gamma=False))
    assert gamma < 1.0 and no_gamma == 1.0
    assert with_gamma.mean() > without.mean()


def test_gray_model_with_three_channels_replicates_luminance():
    colour = np.zeros((48, 48, 3), np.uint8)
    colour[..., 2] = 200  # red in BGR
    spec = _spec(channels=3, mean=(0.5,) * 3, std=(0.25,) * 3)
    prepared = prepare_crop(colour, spec)
    assert prepared.shape == (48, 48, 3)
    assert (prepared[..., 0] == prepared[..., 1]).all() and (prepared[..., 1] == prepared[..., 2]).all()


def test_rgb_model_gets_rgb_order():
    colour = np.zeros((48, 48, 3), np.uint8)
    colour[..., 2] = 200  # red in BGR
    spec = _spec(channels=3, color_space="rgb", mean=(0.5,) * 3, std=(0.25,) * 3)
    prepared = prepare_crop(colour, spec)
    assert prepared[..., 0].mean() == 200 and prepared[..., 2].mean() == 0


def fer_crops_in_frames(landmarker, fer2013_root):
    """(crop, frame, mesh face) for FER2013 val crops enlarged into live-sized frames, where
    the landmarker finds a mesh face in the frame."""
    for path in sorted((fer2013_root / "val" / "happy").glob("*.jpg"))[:40:5]:
        crop = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        frame = cv2.copyMakeBorder(cv2.resize(crop, (240, 240), interpolation=cv2.INTER_CUBIC),
                                   120, 120, 200, 200, cv2.BORDER_REPLICATE)
        faces = [face for face in landmarker.detect(frame) if face.source == "mesh"]
        if faces:
            yield crop, frame, faces[0]


def test_live_frames_and_dataset_crops_make_alike_tensors(landmarker, fer2013_root):
    """FER2013 crops enlarged into frames and aligned back look like their training tensors.

    Individual FER2013 crops are framed looser or tighter than the template (see
    test_alignment), so this asks for alike framing and the same photometry, not equality.
    """
    spec = _spec()
    correlations, brightness_gaps, gamma_gaps = [], [], []
    for crop, frame, face in fer_crops_in_frames(landmarker, fer2013_root):
        live, live_gamma = to_tensor(crop_face(frame, face.anchors, spec), spec)
        train, train_gamma = to_tensor(prepare_crop(crop, spec), spec)
        assert live.shape == train.shape == (1, 48, 48)
        correlations.append(_framing_similarity(live[0], train[0]))
        brightness_gaps.append(abs(live[0, 12:36, 12:36].mean() - train[0, 12:36, 12:36].mean()))
        gamma_gaps.append(abs(live_gamma - train_gamma))
    assert len(correlations) >= 6
    assert np.median(correlations) > 0.5
    assert np.median(brightness_gaps) < 0.3  # in normalised units (std 0.25 of [0, 1])
    assert np.median(gamma_gaps) < 0.15


def test_all_faces_of_a_frame_form_one_batch(landmarker, multi_face_image):
    faces = landmarker.detect(multi_face_image)
    spec = _spec(input_size=(64, 64))
    batch, gammas = crops_to_batch([crop_face(multi_face_image, face.anchors, spec) for face in faces], spec)
    assert batch.shape == (len(faces), 1, 64, 64) and batch.dtype == np.float32
    assert len(gammas) == len(faces) and all(0.6 <= gamma <= 1.4 for gamma in gammas)
    assert np.isfinite(batch).all()


def test_no_faces_make_an_empty_batch(single_face_image):
    batch, gammas = crops_to_batch([], _spec())
    assert batch.shape == (0, 1, 48, 48) and gammas == []


def test_detector_only_faces_still_align(single_face_image):
    face = Face((0, 0, 10, 10), 0.9, {"right_eye": np.array([250.0, 220.0]),
                                      "left_eye": np.array([330.0, 220.0]),
                                      "nose_tip": np.array([290.0, 270.0]),
                                      "mouth_centre": np.array([290.0, 320.0])})
    crop = crop_face(single_face_image, face.anchors, _spec())
    assert crop.shape == (48, 48, 1)


def test_non_square_sizes_are_refused_for_alignment(single_face_image):
    spec = dataclasses.replace(_spec(), input_size=(48, 64))  # no card allows it; a spec might
    with pytest.raises(ValueError, match="square"):
        crop_face(single_face_image, {"right_eye": np.zeros(2)}, spec)
