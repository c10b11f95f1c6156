import numpy as np
import pytest

from app.face.gamma import GAMMA_MAX, GAMMA_MIN, adaptive_gamma, apply_gamma, gamma_for_luminance


def _image(mean: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(mean, 20, size=(48, 48)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mean", [30, 60, 90])
def test_dark_images_get_brighter(mean):
    image = _image(mean)
    corrected, gamma = adaptive_gamma(image)
    assert GAMMA_MIN <= gamma < 1.0
    assert corrected.mean() > image.mean()


@pytest.mark.parametrize("mean", [170, 200, 230])
def test_bright_images_get_darker(mean):
    image = _image(mean)
    corrected, gamma = adaptive_gamma(image)
    assert 1.0 < gamma <= GAMMA_MAX
    assert corrected.mean() < image.mean()


def test_mid_grey_is_left_nearly_alone():
    image = _image(127.5)
    corrected, gamma = adaptive_gamma(image)
    assert gamma == pytest.approx(1.0, abs=0.02)
    assert abs(float(corrected.mean()) - float(image.mean())) < 2.0


def test_gamma_is_clamped_to_the_papers_range():
    assert gamma_for_luminance(0.01) == GAMMA_MIN
    assert gamma_for_luminance(0.99) == GAMMA_MAX
    assert gamma_for_luminance(0.0) == GAMMA_MIN  # black frames do not divide by zero
    assert gamma_for_luminance(1.0) == GAMMA_MAX


def test_correction_moves_the_mean_towards_mid_grey_without_overshooting():
    for mean in (70, 100, 160, 190):
        image = _image(mean)
        corrected, _ = adaptive_gamma(image)
        before, after = abs(image.mean() - 127.5), abs(corrected.mean() - 127.5)
        assert after < before


def test_lookup_table_matches_the_formula_and_keeps_shape_and_range():
    image = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    corrected = apply_gamma(image, 0.8)
    assert corrected.shape == image.shape and corrected.dtype == np.uint8
    expected = np.round(255 * (np.arange(256) / 255) ** 0.8).astype(np.uint8)
    np.testing.assert_array_equal(corrected[..., 0].ravel(), expected)
    assert corrected[0, 0, 0] == 0 and corrected[-1, -1, 0] == 255


def test_colour_crops_keep_their_channels():
    rgb = np.dstack([_image(40, 1), _image(60, 2), _image(80, 3)])
    corrected, gamma = adaptive_gamma(rgb)
    assert corrected.shape == rgb.shape
    assert gamma < 1.0 and (corrected.mean(axis=(0, 1)) > rgb.mean(axis=(0, 1))).all()


def test_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        apply_gamma(np.zeros((4, 4), np.float32), 1.2)
