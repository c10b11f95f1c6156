"""The one face-to-tensor path, shared by training crops and live frames."""

import cv2
import numpy as np
import pytest

from app.landmarks import Face
from app.preprocess import PreprocessSpec, crop_face, faces_to_batch, prepare_crop, to_tensor
from tests.onnx_fixtures import fer_card


def _spec(**changes) -> PreprocessSpec:
    return PreprocessSpec.from_card(fer_card(**changes))


def test_spec_comes_from_the_card():
    spec = _spec(input_size=(64, 64), gamma=False)
    assert spec.input_size == (64, 64) and spec.channels == 1 and not spec.gamma
    assert spec.template.template_id == "fer2013-mesh-v1"


def test_dataset_crop_is_resized_and_normalised():
    crop = np.full((48, 48), 128, np.uint8)
    spec = _spec(input_size=(64, 64), gamma=False)
    prepared = prepare_crop(crop, spec)
    assert prepared.shape == (64, 64, 1) and prepared.dtype == np.uint8
    tensor, gamma = to_tensor(prepared, spec)
    assert tensor.shape == (1, 64, 64) and tensor.dtype == np.float32 and gamma == 1.0
    np.testing.assert_allclose(tensor, (128 / 255 - 0.5) / 0.25, rtol=1e-5)


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


def test_live_frame_and_dataset_crop_meet_in_the_same_tensor(landmarker, fer2013_root):
    """A FER2013 crop enlarged into a frame and aligned back gives nearly its own tensor."""
    spec = _spec()
    path = sorted((fer2013_root / "val" / "happy").glob("*.jpg"))[3]
    crop = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    frame = cv2.copyMakeBorder(cv2.resize(crop, (240, 240), interpolation=cv2.INTER_CUBIC),
                               120, 120, 200, 200, cv2.BORDER_CONSTANT, value=0)
    faces = [face for face in landmarker.detect(frame) if face.source == "mesh"]
    assert faces
    live, live_gamma = to_tensor(crop_face(frame, faces[0].anchors, spec), spec)
    train, train_gamma = to_tensor(prepare_crop(crop, spec), spec)
    assert live.shape == train.shape == (1, 48, 48)
    assert np.corrcoef(live[0, 8:40, 8:40].ravel(), train[0, 8:40, 8:40].ravel())[0, 1] > 0.75
    assert abs(live_gamma - train_gamma) < 0.15


def test_all_faces_of_a_frame_form_one_batch(landmarker, multi_face_image):
    faces = landmarker.detect(multi_face_image)
    spec = _spec(input_size=(64, 64))
    batch, gammas = faces_to_batch(multi_face_image, [face.anchors for face in faces], spec)
    assert batch.shape == (len(faces), 1, 64, 64) and batch.dtype == np.float32
    assert len(gammas) == len(faces) and all(0.6 <= gamma <= 1.4 for gamma in gammas)
    assert np.isfinite(batch).all()


def test_no_faces_make_an_empty_batch(single_face_image):
    batch, gammas = faces_to_batch(single_face_image, [], _spec())
    assert batch.shape == (0, 1, 48, 48) and gammas == []


def test_detector_only_faces_still_align(single_face_image):
    face = Face((0, 0, 10, 10), 0.9, {"right_eye": np.array([250.0, 220.0]),
                                      "left_eye": np.array([330.0, 220.0]),
                                      "nose_tip": np.array([290.0, 270.0]),
                                      "mouth_centre": np.array([290.0, 320.0])})
    crop = crop_face(single_face_image, face.anchors, _spec())
    assert crop.shape == (48, 48, 1)


def test_non_square_sizes_are_refused_for_alignment(single_face_image):
    with pytest.raises(ValueError, match="square"):
        crop_face(single_face_image, {"right_eye": np.zeros(2)}, _spec(input_size=(48, 64)))
