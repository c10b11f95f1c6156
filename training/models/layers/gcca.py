"""Group Convolutional Channel Attention (GCCA), introduced with the VGG16 network by
Jianzeng Chen and Ningning Chen, "A Framework for Facial Expression Recognition Combining
Contextual Information and Attention Mechanism", Journal of Information Processing
Systems, 2024, DOI 10.3745/JIPS.01.0107, Sec. 2.3. It builds on SE
(``layers.squeeze_excitation``) and group convolution (the paper cites Zhang, Qi, Xiao
and Wang, "Interleaved Group Convolutions", ICCV 2017, DOI 10.1109/ICCV.2017.469).

An SE-style channel gate that squeezes each channel three ways: average pooling, max
pooling and stochastic ("random") pooling. The three descriptors of one channel are
placed side by side and fused by a 1x1 group convolution with one group per channel, so
each fused value sees exactly its own channel's three statistics. Then two 1x1
convolutions (C -> C/16 -> C) learn the channel weights (the paper's Eq. 1):

    M(F) = sigmoid(W2(ReLU(W1(ReLU(G(F_avg; F_max; F_rdm))))))
    F'   = M(F) * F + F                                          (Eq. 2)

The residual ``+ F`` keeps the gate from weakening the response (the paper's reason).

Stochastic pooling (Zeiler and Fergus, "Stochastic Pooling for Regularization of Deep
Convolutional Neural Networks", ICLR 2013, arXiv:1301.3557) over the whole map: with
non-negative activations ``a_i`` and ``p_i = a_i / sum_j a_j``, training draws one
location per channel with probability ``p_i`` and passes its activation on; evaluation
uses the expected value ``sum_i p_i a_i`` (deterministic, so the exported graph is
fixed). The paper places the module after ReLU convolutions; negative inputs are clamped
to zero for the probabilities, as stochastic pooling assumes. A channel that is zero
everywhere pools to zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_TINY = 1e-12


def stochastic_pool(features: torch.Tensor, sample: bool) -> torch.Tensor:
    """Global stochastic pooling, (N, C, H, W) -> (N, C, 1, 1).

    ``sample=True`` draws one activation per channel with probability proportional to
    it (by inverse-CDF sampling, which vectorises); ``sample=False`` returns the
    probability-weighted average. The probabilities are computed in float32 so bf16
    autocast cannot skew the cumulative sums; the result is in the input's dtype.
    """
    if sample:
        return _sampled(features)
    activations = features.float().flatten(2).clamp_min(0)
    total = activations.sum(dim=-1, keepdim=True)
    pooled = (activations * activations).sum(dim=-1, keepdim=True) / total.clamp_min(_TINY)
    return pooled.unsqueeze(-1).to(features.dtype)


def _sampled(features: torch.Tensor) -> torch.Tensor:
    """One activation per channel drawn with probability ``p_i``, gathered from ``features``.

    Which location is drawn carries no gradient, so the draw runs without autograd and
    the gradient reaches only the drawn activations: a scatter of N x C values, where
    differentiating the float32 copy, the clamp and the gather would cost several passes
    over the whole map. On channels-last maps the gather reads a view (no copy).
    """
    batch, channels, height, width = features.shape
    with torch.no_grad():
        activations = features.clamp_min(0).to(torch.float32, memory_format=torch.contiguous_format)
        cumulative = activations.flatten(2).cumsum_(dim=-1)  # (N, C, HW), rows contiguous
        threshold = torch.rand_like(cumulative[..., -1:]) * cumulative[..., -1:]
        # The first location whose cumulative sum passes the threshold; zero-probability
        # locations never pass (their cumulative sum does not grow). An all-zero channel
        # gives index H*W, clamped to the last location, whose activation is zero.
        index = torch.searchsorted(cumulative, threshold, right=True).clamp_max_(height * width - 1)
    locations = features.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
    pooled = locations.gather(1, index.transpose(1, 2)).clamp_min(0)  # (N, 1, C)
    return pooled.transpose(1, 2).unsqueeze(-1)


class GCCA(nn.Module):
    """Channel attention from average, max and stochastic pooling fused per channel."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fuse = nn.Conv2d(3 * channels, channels, 1, groups=channels)
        self.excitation = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def descriptors(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 3C, 1, 1), ordered channel by channel: avg_0, max_0, rdm_0, avg_1, ..."""
        average = features.mean(dim=(2, 3), keepdim=True)
        maximum = F.adaptive_max_pool2d(features, 1)  # amax's backward costs 4x more passes
        stochastic = stochastic_pool(features, sample=self.training)
        stacked = torch.stack([average, maximum, stochastic], dim=2)  # (N, C, 3, 1, 1)
        return stacked.flatten(1, 2)

    def attention(self, features: torch.Tensor) -> torch.Tensor:
        """The channel weights ``M(F)`` in (0, 1), shape (N, C, 1, 1)."""
        return self.excitation(self.fuse(self.descriptors(features)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features * (self.attention(features) + 1)  # M(F) * F + F in one pass
