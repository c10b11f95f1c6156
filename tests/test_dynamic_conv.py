"""DynamicConv: an ordinary convolution with each sample's attention-aggregated kernel."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training.models.layers.dynamic_conv import DynamicConv, anneal_temperature

GEOMETRIES = [
    dict(kernel_size=3, stride=1, dilation=1, groups=1),
    dict(kernel_size=3, stride=2, dilation=1, groups=2),
    dict(kernel_size=5, stride=1, dilation=2, groups=1),
    dict(kernel_size=1, stride=1, dilation=1, groups=3),
]


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("bias", [True, False])
def test_equals_a_plain_convolution_with_the_per_sample_aggregated_kernel(geometry, bias):
    torch.manual_seed(0)
    module = DynamicConv(6, 12, bias=bias, kernels=4, temperature=1.0, **geometry).double()
    x = torch.randn(3, 6, 11, 11, dtype=torch.float64)
    with torch.no_grad():
        logits = module.attention(x)
        outputs = module(x)
        for sample in range(len(x)):
            weights = torch.softmax(logits[sample], dim=0)
            kernel = sum(weights[k] * module.weight[k] for k in range(4))
            sample_bias = sum(weights[k] * module.bias[k] for k in range(4)) if bias else None
            expected = F.conv2d(
                x[sample : sample + 1], kernel, sample_bias, geometry["stride"],
                module.padding, geometry["dilation"], geometry["groups"],
            )
            torch.testing.assert_close(outputs[sample : sample + 1], expected)
        torch.testing.assert_close(outputs, module.forward_aggregated(x))


def test_attention_depends_on_the_input():
    torch.manual_seed(0)
    module = DynamicConv(4, 4, 3, temperature=1.0)
    attention = module.kernel_attention(torch.randn(2, 4, 8, 8) * torch.tensor([1.0, 5.0]).view(2, 1, 1, 1))
    torch.testing.assert_close(attention.sum(dim=1), torch.ones(2))
    assert not torch.allclose(attention[0], attention[1])


def test_one_kernel_reduces_to_a_plain_convolution():
    torch.manual_seed(0)
    module = DynamicConv(4, 5, 3, stride=2, kernels=1)
    plain = nn.Conv2d(4, 5, 3, stride=2, padding=1)
    with torch.no_grad():
        plain.weight.copy_(module.weight[0])
        plain.bias.copy_(module.bias[0])
    x = torch.randn(2, 4, 9, 9)
    torch.testing.assert_close(module.kernel_attention(x), torch.ones(2, 1))
    torch.testing.assert_close(module(x), plain(x))


def test_temperature_flattens_or_sharpens_the_attention():
    torch.manual_seed(0)
    module = DynamicConv(8, 8, 3, kernels=4)
    with torch.no_grad():
        module.attention.mlp[-1].weight.mul_(20)  # spread the logits so the effect is visible
    x = torch.randn(4, 8, 6, 6)
    logits = module.attention(x)
    module.temperature.fill_(1e4)
    flat = module.kernel_attention(x)
    assert (flat - 0.25).abs().max() < 1e-3
    module.temperature.fill_(1e-3)
    sharp = module.kernel_attention(x)
    torch.testing.assert_close(sharp, F.one_hot(logits.argmax(dim=1), 4).float())
    module.temperature.fill_(1.0)
    torch.testing.assert_close(module.kernel_attention(x), torch.softmax(logits, dim=1))


def test_temperature_anneals_from_30_to_1_over_ten_epochs_and_is_saved():
    model = nn.Sequential(DynamicConv(2, 3, 3), DynamicConv(3, 3, 1))
    assert float(model[0].temperature) == 30.0
    schedule = [anneal_temperature(model, epoch) for epoch in (0, 5, 10, 25)]
    assert schedule == pytest.approx([30.0, 15.5, 1.0, 1.0])
    assert all(float(layer.temperature) == 1.0 for layer in model)
    assert "0.temperature" in model.state_dict()
    with pytest.raises(ValueError):
        anneal_temperature(model, -1)


def test_every_kernel_and_the_attention_learn():
    torch.manual_seed(0)
    module = DynamicConv(3, 4, 3, temperature=1.0)
    module(torch.randn(2, 3, 7, 7)).square().sum().backward()
    for k in range(module.kernels):
        assert module.weight.grad[k].abs().sum() > 0
    assert all(parameter.grad.abs().sum() > 0 for parameter in module.attention.parameters())


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(in_channels=4, out_channels=6, kernel_size=3, groups=4), "groups"),
        (dict(in_channels=4, out_channels=4, kernel_size=3, kernels=0), "kernels"),
        (dict(in_channels=4, out_channels=4, kernel_size=3, temperature=0), "temperature"),
    ],
)
def test_rejects_impossible_settings(arguments, message):
    with pytest.raises(ValueError, match=message):
        DynamicConv(**arguments)
