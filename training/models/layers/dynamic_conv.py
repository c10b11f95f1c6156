"""Dynamic convolution (Yinpeng Chen, Xiyang Dai, Mengchen Liu, Dongdong Chen, Lu Yuan and
Zicheng Liu, "Dynamic Convolution: Attention over Convolution Kernels", CVPR 2020,
arXiv:1912.03458): the improved YOLOv8's convolution.

``K`` parallel kernels ``W_k, b_k`` share one layer; an input-dependent attention
``pi(x) = softmax(z(x) / tau)``, with ``z`` global average pooling -> FC (C/4) -> ReLU
-> FC (K), mixes them into one kernel per sample: ``W(x) = sum_k pi_k W_k``, likewise
the bias. Chen et al. use ``K = 4`` and anneal the temperature ``tau`` linearly from 30
to 1 over the first 10 epochs so that every kernel trains while attention is still
near-uniform (``anneal_temperature``); the temperature is a buffer, so a checkpoint
keeps the value it was trained with.

Convolution is linear in its kernel, so ``W(x) * x = sum_k pi_k (W_k * x)``. ``forward``
computes that right-hand side: one convolution with all K kernels stacked, then the
attention-weighted sum. It costs K times the multiply-accumulates of the aggregated
form, but its shapes never depend on the batch size, so it exports to ONNX with a
dynamic batch axis; the aggregated form needs a grouped convolution with ``N x groups``
groups, which ONNX cannot express for a symbolic ``N``. ``forward_aggregated`` keeps
that form as the reference the unit tests compare against.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MIN_ATTENTION_HIDDEN = 4
"""Floor on the attention MLP's width, so a 1- or 3-channel input layer still gets one."""


class KernelAttention(nn.Module):
    """``z(x)``: global average pooling and a two-layer MLP giving one logit per kernel."""

    def __init__(self, in_channels: int, kernels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(in_channels // reduction, MIN_ATTENTION_HIDDEN)
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, kernels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x.mean(dim=(2, 3)))


class DynamicConv(nn.Module):
    """A drop-in for ``nn.Conv2d`` whose kernel is an attention-weighted mix of K kernels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        kernels: int = 4,
        reduction: int = 4,
        temperature: float = 30.0,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
            )
        if kernels < 1:
            raise ValueError(f"kernels must be at least 1, got {kernels}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.dilation, self.groups, self.kernels = stride, dilation, groups, kernels
        self.padding = dilation * (kernel_size - 1) // 2 if padding is None else padding
        self.weight = nn.Parameter(
            torch.empty(kernels, out_channels, in_channels // groups, kernel_size, kernel_size)
        )
        self.bias = nn.Parameter(torch.empty(kernels, out_channels)) if bias else None
        self.attention = KernelAttention(in_channels, kernels, reduction)
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise every kernel independently, as ``nn.Conv2d`` initialises its one."""
        fan_in = self.weight[0, 0].numel()
        for kernel in range(self.kernels):
            nn.init.kaiming_uniform_(self.weight[kernel], a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def kernel_attention(self, x: torch.Tensor) -> torch.Tensor:
        """``pi(x)``: (N, K) softmax weights over the kernels, summing to one per sample."""
        return torch.softmax(self.attention(x) / self.temperature, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attention = self.kernel_attention(x)
        kernels, groups = self.kernels, self.groups
        per_group = self.out_channels // groups
        # Stack the K kernels inside each group, so output channels run (group, kernel, channel).
        stacked = self.weight.unflatten(1, (groups, per_group)).transpose(0, 1).flatten(0, 2)
        bias = None
        if self.bias is not None:
            bias = self.bias.unflatten(1, (groups, per_group)).transpose(0, 1).flatten()
        outputs = F.conv2d(x, stacked, bias, self.stride, self.padding, self.dilation, groups)
        outputs = outputs.unflatten(1, (groups, kernels, per_group))
        mixed = (outputs * attention[:, None, :, None, None, None]).sum(dim=2)
        return mixed.flatten(1, 2)

    def aggregated_kernels(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-sample ``W(x)`` (N, out, in/groups, k, k) and ``b(x)`` (N, out) or None."""
        attention = self.kernel_attention(x)
        weight = torch.einsum("nk,koihw->noihw", attention, self.weight)
        bias = attention @ self.bias if self.bias is not None else None
        return weight, bias

    def forward_aggregated(self, x: torch.Tensor) -> torch.Tensor:
        """Chen et al.'s aggregated form: one grouped convolution over the whole batch."""
        batch = x.shape[0]
        weight, bias = self.aggregated_kernels(x)
        outputs = F.conv2d(
            x.reshape(1, batch * self.in_channels, *x.shape[2:]),
            weight.flatten(0, 1),
            bias.flatten() if bias is not None else None,
            self.stride,
            self.padding,
            self.dilation,
            groups=batch * self.groups,
        )
        return outputs.unflatten(1, (batch, self.out_channels)).squeeze(0)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, kernels={self.kernels}, bias={self.bias is not None}"
        )


def anneal_temperature(
    model: nn.Module, epoch: int, start: float = 30.0, end: float = 1.0, epochs: int = 10
) -> float:
    """Set every DynamicConv's temperature for ``epoch`` (0-based) on Chen et al.'s schedule.

    Linear from ``start`` at epoch 0 to ``end`` at ``epochs`` and constant after; returns
    the value set (``end`` when the model has no dynamic convolution, for the log).
    """
    if epoch < 0 or epochs < 1:
        raise ValueError(f"epoch must be >= 0 and epochs >= 1, got {epoch} and {epochs}")
    value = end + (start - end) * max(0.0, 1 - epoch / epochs)
    for module in model.modules():
        if isinstance(module, DynamicConv):
            module.temperature.fill_(value)
    return value
