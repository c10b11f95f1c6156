"""Each augmentation does what it says, within its bounds, and nothing runs at evaluation."""

import math

import numpy as np
import pytest

from app.face.alignment import DEFAULT_TEMPLATE_ID
from app.face.preprocess import PreprocessSpec, prepare_crop, to_tensor
from training.augment import AugmentConfig, Augmenter
from training.data.base import CropSet
from training.data.torch_dataset import CropDataset

SIZE = 48
CENTRE = (SIZE - 1) / 2


def blob_image(x: int, y: int) -> np.ndarray:
    """A dark (H, W, 1) crop with one bright 3x3 blob centred on pixel (x, y)."""
    image = np.zeros((SIZE, SIZE, 1), np.uint8)
    image[y - 1: y + 2, x - 1: x + 2] = 255
    return image


def centroid(image: np.ndarray) -> np.ndarray:
    weights = image[:, :, 0].astype(float)
    rows, columns = np.indices(weights.shape)
    return np.array([(columns * weights).sum(), (rows * weights).sum()]) / weights.sum()


def outputs(config: AugmentConfig, image: np.ndarray, draws: int = 40) -> list[np.ndarray]:
    augmenter = Augmenter(config)
    return [augmenter(image, np.random.default_rng(seed)) for seed in range(draws)]


def test_disabled_augmentation_changes_nothing():
    image = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 1), dtype=np.uint8)
    assert not AugmentConfig().enabled
    for output in outputs(AugmentConfig(), image, 5):
        np.testing.assert_array_equal(output, image)


def test_flip_mirrors_half_of_the_time():
    image = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    mirrored = [np.array_equal(output, image[:, ::-1]) for output in
                outputs(AugmentConfig(horizontal_flip=True), image)]
    unchanged = [np.array_equal(output, image) for output in
                 outputs(AugmentConfig(horizontal_flip=True), image)]
    assert all(m or u for m, u in zip(mirrored, unchanged))
    assert 5 < sum(mirrored) < 35


def test_rotation_stays_within_its_bounds_and_keeps_distances():
    image = blob_image(38, 24)
    offset = centroid(image) - CENTRE
    start = math.degrees(math.atan2(-offset[1], offset[0]))
    angles = []
    for output in outputs(AugmentConfig(rotation_degrees=10), image):
        moved = centroid(output) - CENTRE
        assert np.linalg.norm(moved) == pytest.approx(np.linalg.norm(offset), abs=0.6)
        angles.append(math.degrees(math.atan2(-moved[1], moved[0])) - start)  # counter-clockwise
    assert max(np.abs(angles)) <= 10.5
    assert min(angles) < -3 and max(angles) > 3


def test_rotation_steps_take_only_multiples():
    image = blob_image(38, 24)
    offset = centroid(image) - CENTRE
    start = math.degrees(math.atan2(-offset[1], offset[0]))
    for output in outputs(AugmentConfig(rotation_degrees=10, rotation_step=5), image, 20):
        moved = centroid(output) - CENTRE
        angle = math.degrees(math.atan2(-moved[1], moved[0])) - start
        assert min(abs(angle - step) for step in (-10, -5, 0, 5, 10)) < 1.0


def test_shift_moves_by_at_most_the_fraction():
    image = blob_image(24, 24)
    start = centroid(image)
    moves = [centroid(output) - start for output in outputs(AugmentConfig(shift=0.1), image)]
    assert np.abs(moves).max() <= 0.1 * SIZE + 0.6
    assert np.abs(moves).max() > 1.5


def test_zoom_scales_distances_within_its_range():
    image = blob_image(36, 32)
    distance = np.linalg.norm(centroid(image) - CENTRE)
    ratios = [np.linalg.norm(centroid(output) - CENTRE) / distance
              for output in outputs(AugmentConfig(zoom=0.1), image)]
    assert 0.88 <= min(ratios) and max(ratios) <= 1.12
    assert max(ratios) - min(ratios) > 0.05


def test_shear_moves_x_in_proportion_to_height_only():
    image = blob_image(24, 39)
    start = centroid(image) - CENTRE
    shifts = []
    for output in outputs(AugmentConfig(shear_degrees=10), image, 10):
        moved = centroid(output) - CENTRE
        assert moved[1] == pytest.approx(start[1], abs=0.3)
        shifts.append(moved[0] - start[0])
    assert max(np.abs(shifts)) <= start[1] * math.tan(math.radians(10)) + 0.6
    assert max(np.abs(shifts)) > 0.5


def test_random_crop_enlarges_a_region():
    image = np.zeros((SIZE, SIZE, 1), np.uint8)
    image[20:28, 20:28] = 255
    for output in outputs(AugmentConfig(crop_area=(0.5, 0.6)), image, 10):
        assert output.shape == image.shape
        assert 64 * 1.4 < (output > 127).sum() < 64 * 2.8


def test_colour_jitter_bounds():
    flat = np.full((SIZE, SIZE, 1), 100, np.uint8)
    means = [output.mean() for output in outputs(AugmentConfig(brightness=0.3), flat)]
    assert 69 <= min(means) and max(means) <= 131 and max(means) - min(means) > 20
    halves = np.zeros((SIZE, SIZE, 1), np.uint8)
    halves[:, SIZE // 2:] = 200
    halves[:, :SIZE // 2] = 100
    for output in outputs(AugmentConfig(contrast=0.3), halves, 10):
        spread = float(output[0, -1, 0]) - float(output[0, 0, 0])
        assert 70 - 1 <= spread <= 130 + 1


def test_same_generator_seed_same_augmentation():
    config = AugmentConfig(horizontal_flip=True, rotation_degrees=10, shift=0.1, zoom=0.1,
                           brightness=0.2)
    image = np.random.default_rng(2).integers(0, 256, (SIZE, SIZE, 1), dtype=np.uint8)
    first = Augmenter(config)(image, np.random.default_rng(7))
    again = Augmenter(config)(image, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)


def test_overrides_parse_and_bad_ones_name_the_keys():
    config = AugmentConfig().with_overrides("horizontal_flip=true, rotation_degrees=15,crop_area=0.8:1")
    assert config == AugmentConfig(horizontal_flip=True, rotation_degrees=15, crop_area=(0.8, 1.0))
    assert "rotation_degrees=15" in config.describe()
    assert config.with_overrides("none") == AugmentConfig()
    with pytest.raises(ValueError, match="rotation_degrees"):
        AugmentConfig().with_overrides("spin=3")
    with pytest.raises(ValueError, match="crop_area"):
        AugmentConfig(crop_area=(0.0, 1.0))


def test_evaluation_dataset_is_the_app_preprocessing_unchanged():
    spec = PreprocessSpec((SIZE, SIZE), 1, "gray", (0.5,), (0.25,), True, DEFAULT_TEMPLATE_ID)
    raw = np.random.default_rng(3).integers(0, 256, (4, 60, 60), dtype=np.uint8)
    crops = np.stack([prepare_crop(image, spec) for image in raw])
    crop_set = CropSet("test", "val", ("a", "b"), crops, np.array([0, 1, 0, 1]))
    evaluation = CropDataset(crop_set, spec)  # no augmenter, as for validation
    for index in range(4):
        tensor, target = evaluation[(3, index)]
        np.testing.assert_array_equal(tensor.numpy(), to_tensor(crops[index], spec)[0])
        assert target == crop_set.targets[index]
    training = CropDataset(crop_set, spec, Augmenter(AugmentConfig(rotation_degrees=10)), seed=1)
    assert not np.array_equal(training[(0, 0)][0].numpy(), evaluation[(0, 0)][0].numpy())
    np.testing.assert_array_equal(training[(0, 0)][0].numpy(), training[(0, 0)][0].numpy())
    assert not np.array_equal(training[(0, 0)][0].numpy(), training[(1, 0)][0].numpy())
