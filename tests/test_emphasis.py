"""Landmark emphasis (DCRNet Sec. 2.1.2): one definition, live and in training, with fallbacks."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timezone

import cv2
import numpy as np
import onnx
import pytest

from app.face.alignment import alignment_matrix
from app.face.crop_landmarks import locate_in_crop
from app.face.emphasis import FEATURE_POINT_INDICES, FEATURE_REGIONS, FeatureOutline, emphasise
from app.face.preprocess import crop_face, crops_to_batch, emphasise_crop, frame_outline, template_outline
from app.face.tracking import FaceTracker
from app.face_reading import read_faces
from app.model.card import ModelCardError, read_card
from app.model.inference import EmotionClassifier
from app.results import Frame, StageTimings
from tests.onnx_fixtures import fer_card, linear_model, write_model
from tests.test_preprocess import fer_crops_in_frames
from training.data import crop_outlines


def _spec(strength: float = 0.6):
    return fer_card(landmark_emphasis=strength).preprocess


def _mesh_face(landmarker, image):
    faces = [face for face in landmarker.detect(image) if face.source == "mesh"]
    assert faces, "the test image's face has a mesh"
    return faces[0]


def test_regions_are_mediapipes_own_contours():
    from mediapipe.python.solutions import face_mesh_connections as contours

    def points(*names):
        return {index for name in names for edge in getattr(contours, name) for index in edge}

    assert set(FEATURE_REGIONS["right_eye"]) == points("FACEMESH_RIGHT_EYE", "FACEMESH_RIGHT_EYEBROW")
    assert set(FEATURE_REGIONS["left_eye"]) == points("FACEMESH_LEFT_EYE", "FACEMESH_LEFT_EYEBROW")
    assert set(FEATURE_REGIONS["nose"]) == points("FACEMESH_NOSE")
    assert set(FEATURE_REGIONS["mouth"]) == points("FACEMESH_LIPS")
    assert len(FEATURE_POINT_INDICES) == sum(len(indices) for indices in FEATURE_REGIONS.values())


def test_the_features_are_kept_and_the_rest_faded_by_the_strength():
    spec = _spec()
    outline = template_outline(spec)
    mask = outline.mask(48)
    for x, y in spec.template.points.values():
        assert mask[int(y * 48), int(x * 48)] > 0.95
    assert mask[:3, :3].max() < 0.01 and mask[-3:, -3:].max() < 0.01  # the corners

    crop = np.random.default_rng(0).integers(0, 256, (48, 48, 1), dtype=np.uint8)
    mean = crop.astype(np.float32).mean()
    flat = emphasise(crop, outline, 1.0)
    assert np.abs(flat[:3, :3].astype(np.float32) - mean).max() <= 1.0
    half = emphasise(crop, outline, 0.5)
    expected_corner = crop[0, 0, 0] + 0.5 * (mean - crop[0, 0, 0])
    assert abs(float(half[0, 0, 0]) - expected_corner) <= 1.0
    eye_x, eye_y = spec.template.point("right_eye")
    eye = (int(eye_y * 48), int(eye_x * 48), 0)
    assert abs(int(flat[eye]) - int(crop[eye])) <= 1
    assert emphasise(crop, outline, 0.0) is crop
    assert emphasise_crop(crop, outline, _spec(0.0)) is crop


def test_bad_strengths_and_anchors_are_refused_with_the_reason():
    outline = template_outline(_spec())
    crop = np.zeros((48, 48, 1), np.uint8)
    with pytest.raises(ValueError, match=r"in \[0, 1\], got 1.5"):
        emphasise(crop, outline, 1.5)
    with pytest.raises(ValueError, match="square"):
        emphasise(np.zeros((48, 40, 1), np.uint8), outline, 0.5)
    with pytest.raises(ValueError, match="nose_tip"):
        FeatureOutline.from_anchors({"right_eye": (0.3, 0.4), "left_eye": (0.7, 0.4),
                                     "mouth_centre": (0.5, 0.8)})
    with pytest.raises(ValueError, match="feature points"):
        FeatureOutline.from_feature_points(np.zeros((5, 2)))


def test_live_and_training_put_the_regions_in_the_same_place(landmarker, fer2013_root):
    """The live path (the frame's mesh carried into the aligned crop) and the training path
    (the crop's own landmarks, found in it) outline the same features of the same crop."""
    spec = _spec()
    overlaps = []
    for _, frame, face in fer_crops_in_frames(landmarker, fer2013_root):
        live = frame_outline(face.anchors, face.mesh, spec)
        aligned = crop_face(frame, face.anchors, spec)
        found = locate_in_crop(landmarker, aligned)
        if found is None or found.feature_points is None:
            continue
        trained = FeatureOutline.from_feature_points(found.feature_points)
        assert live.source == trained.source == "mesh"
        live_mask, trained_mask = live.mask(48) > 0.5, trained.mask(48) > 0.5
        overlaps.append((live_mask & trained_mask).sum() / (live_mask | trained_mask).sum())
    assert len(overlaps) >= 4
    assert np.median(overlaps) > 0.8


def test_a_detector_only_face_falls_back_to_ellipses_on_its_anchors(landmarker, single_face_image):
    spec = _spec()
    face = _mesh_face(landmarker, single_face_image)
    detector_anchors = {"right_eye": face.anchors["right_eye"], "left_eye": face.anchors["left_eye"],
                        "nose_tip": face.anchors["nose_tip"],
                        "mouth_centre": (face.anchors["mouth_right"] + face.anchors["mouth_left"]) / 2}
    outline = frame_outline(detector_anchors, None, spec)
    assert outline.source == "detector"
    # the ellipses cover where the mesh puts the features
    matrix = alignment_matrix(detector_anchors, spec.template, 48)
    points = (face.mesh[FEATURE_POINT_INDICES, :2] - 0.5) @ matrix[:, :2].T + matrix[:, 2] + 0.5
    mask = outline.mask(48)
    inside = [mask[int(np.clip(y, 0, 47)), int(np.clip(x, 0, 47))] > 0.5 for x, y in points]
    assert np.mean(inside) > 0.85


def test_the_app_feeds_the_model_the_emphasised_crop(tmp_path, landmarker, single_face_image):
    spec = _spec(0.8)
    plain_path = write_model(tmp_path / "plain.onnx", linear_model(), fer_card())
    emphasis_path = write_model(tmp_path / "emphasis.onnx", linear_model(), fer_card(landmark_emphasis=0.8))
    face = _mesh_face(landmarker, single_face_image)
    frame = Frame(single_face_image, 0, 0.0, datetime.now(timezone.utc))
    read = {}
    for name, path in (("plain", plain_path), ("emphasis", emphasis_path)):
        model = EmotionClassifier(path, ["CPUExecutionProvider"])
        results, _ = read_faces(frame, [face], model, model.spec, FaceTracker(), StageTimings())
        read[name] = results[0]
    crop = crop_face(single_face_image, face.anchors, spec)
    expected_batch, _ = crops_to_batch([emphasise_crop(crop, frame_outline(face.anchors, face.mesh, spec),
                                                       spec)], spec)
    expected = EmotionClassifier(emphasis_path, ["CPUExecutionProvider"]).predict(expected_batch)
    np.testing.assert_allclose(read["emphasis"].probabilities, expected.probabilities[0], atol=1e-6)
    assert np.abs(np.asarray(read["emphasis"].probabilities) - read["plain"].probabilities).max() > 1e-4
    # sharpness, brightness and the rest are measured on the crop as seen; the gamma
    # reported is the one applied, to the emphasised crop
    plain_quality = dataclasses.replace(read["plain"].quality, gamma=read["emphasis"].quality.gamma)
    assert read["emphasis"].quality == plain_quality


def test_the_card_carries_the_emphasis_and_older_cards_have_none(tmp_path):
    path = write_model(tmp_path / "m.onnx", linear_model(), fer_card(landmark_emphasis=0.5))
    assert read_card(path).preprocess.landmark_emphasis == 0.5
    model = onnx.load(str(path))
    kept = [entry for entry in model.metadata_props if entry.key != "emotion.landmark_emphasis"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save_model(model, str(tmp_path / "old.onnx"))
    assert read_card(tmp_path / "old.onnx").preprocess.landmark_emphasis == 0.0
    with pytest.raises(ModelCardError, match=r"landmark_emphasis must be in \[0, 1\]"):
        fer_card(landmark_emphasis=1.5)


def test_training_crops_get_their_regions_once_and_fall_back_to_the_template(
        tmp_path, monkeypatch, fer2013_root, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = _spec()
    faces = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)[:, :, None]
             for path in sorted((fer2013_root / "val" / "happy").glob("*.jpg"))[:6]]
    noise = np.random.default_rng(1).integers(0, 256, (48, 48, 1), dtype=np.uint8)
    crops = np.stack([*faces, noise])
    with caplog.at_level(logging.INFO, logger="training.data.crop_outlines"):
        emphasised = crop_outlines.emphasise_crops(crops, spec)
    outlines = crop_outlines.crop_outlines(crops, spec)
    assert outlines[-1].source == "template" and sum(o.source == "mesh" for o in outlines) >= 4
    for crop, outline, result in zip(crops, outlines, emphasised):
        np.testing.assert_array_equal(result, emphasise(crop, outline, 0.6))
    counts = {source: sum(outline.source == source for outline in outlines)
              for source in ("mesh", "detector", "template")}
    assert (f"the mesh in {counts['mesh']}, the detector in {counts['detector']}, "
            f"the template in {counts['template']}") in caplog.text
    assert len(list(crop_outlines.cache_folder().glob("*.npz"))) == 1

    def no_landmarker(*_):
        raise AssertionError("the landmarks were found again instead of read from the cache")

    monkeypatch.setattr(crop_outlines, "_locate_all", no_landmarker)
    np.testing.assert_array_equal(crop_outlines.emphasise_crops(crops, spec), emphasised)
    assert crop_outlines.emphasise_crops(crops, _spec(0.0)) is crops


def test_an_unusable_cache_costs_time_not_the_run(tmp_path, monkeypatch, caplog):
    crops = np.random.default_rng(2).integers(0, 256, (2, 48, 48, 1), dtype=np.uint8)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with caplog.at_level(logging.WARNING):
        first = crop_outlines.emphasise_crops(crops, _spec())
    assert "cannot cache crop landmarks" in caplog.text
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    crop_outlines.emphasise_crops(crops, _spec())
    (cached,) = crop_outlines.cache_folder().glob("*.npz")
    cached.write_bytes(b"not an npz")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = crop_outlines.emphasise_crops(crops, _spec())
    assert "ignoring unreadable landmark cache" in caplog.text
    np.testing.assert_array_equal(first, again)


def test_the_spec_refuses_an_emphasis_outside_zero_to_one():
    spec = dataclasses.replace(_spec(), landmark_emphasis=-0.1)
    assert any("landmark_emphasis" in problem for problem in spec.problems())


def test_a_model_trained_with_emphasis_carries_it_to_the_app(tmp_path, monkeypatch, fer2013_root, caplog):
    from training.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "run"
    base = ["train", "--arch", "mini_xception", "--data", str(fer2013_root), "--limit-per-class", "10",
            "--epochs", "1", "--batch", "16", "--threads", "1", "--workers", "0", "--out", str(out)]
    assert main([*base, "--landmark-emphasis", "2"]) == 2
    assert "--landmark-emphasis must be between 0 (off) and 1 (flat), got 2" in caplog.text
    assert main([*base, "--landmark-emphasis", "0.4"]) == 0
    assert main(["export", str(out / "best.pt"), "--out", str(tmp_path / "m.onnx"),
                 "--limit-per-class", "10"]) == 0
    card = EmotionClassifier(tmp_path / "m.onnx", ["CPUExecutionProvider"]).card
    assert card.preprocess.landmark_emphasis == 0.4
