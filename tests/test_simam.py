"""SimAM: parameter-free, and exactly the closed-form minimal energy of its paper."""

import math

import pytest
import torch

from training.models.layers.simam import SimAM


def test_adds_no_parameters_or_state():
    module = SimAM()
    assert list(module.parameters()) == []
    assert list(module.buffers()) == []
    assert module.state_dict() == {}


def test_matches_the_closed_form_energy_computed_by_hand():
    """sigmoid(1 / e_t*) * t with e_t* = 4(var + l) / ((t - mean)^2 + 2 var + 2 l), per channel."""
    regularisation = 0.1
    x = torch.tensor(
        [[[[1.0, 2.0, 0.0], [4.0, -1.0, 3.0]], [[0.5, 0.5, 0.5], [0.5, 0.5, 6.0]]]],
        dtype=torch.float64,
    )
    expected = torch.empty_like(x)
    for channel in range(x.shape[1]):
        values = [float(v) for v in x[0, channel].flatten()]
        mean = sum(values) / len(values)
        variance = sum((v - mean) ** 2 for v in values) / len(values)
        for row in range(x.shape[2]):
            for column in range(x.shape[3]):
                t = float(x[0, channel, row, column])
                energy = 4 * (variance + regularisation) / (
                    (t - mean) ** 2 + 2 * variance + 2 * regularisation
                )
                expected[0, channel, row, column] = t / (1 + math.exp(-1 / energy))
    torch.testing.assert_close(SimAM(regularisation)(x), expected, rtol=1e-12, atol=1e-12)


def test_the_neuron_that_stands_out_gets_the_largest_weight():
    x = torch.ones(1, 1, 4, 4)
    x[0, 0, 1, 2] = 5.0
    weights = torch.sigmoid(SimAM().inverse_energy(x))
    assert weights.flatten().argmax().item() == 1 * 4 + 2
    assert weights.min() == pytest.approx(weights.flatten()[0].item())


def test_weights_are_per_channel_and_per_position():
    """A 3-D weight: scaling one channel's contrast changes only that channel's weights."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5)
    changed = x.clone()
    changed[:, 1] = changed[:, 1] ** 3
    before, after = SimAM().inverse_energy(x), SimAM().inverse_energy(changed)
    torch.testing.assert_close(before[:, [0, 2]], after[:, [0, 2]])
    assert not torch.allclose(before[:, 1], after[:, 1])


def test_a_one_pixel_map_gets_the_neutral_weight():
    x = torch.randn(2, 4, 1, 1)
    torch.testing.assert_close(SimAM()(x), x * torch.sigmoid(torch.tensor(0.5)))


def test_rejects_a_non_positive_lambda():
    with pytest.raises(ValueError, match="positive"):
        SimAM(0.0)
