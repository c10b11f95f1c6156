"""Batch mixing: mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization",
doi:10.48550/arXiv.1710.09412) and CutMix (Yun et al. 2019, "CutMix: Regularization Strategy
to Train Strong Classifiers with Localizable Features", doi:10.1109/ICCV.2019.00612).

Both pair each sample with another of the same batch (a seeded permutation) and blend the
targets by the share each image contributes, so the targets become distributions. A
teacher's probabilities are blended with the same share: the student is asked for what
the teacher would say of each part. Every draw comes from the generator the caller
passes, seeded per batch (``numpy.random.Generator``), so a resumed run mixes exactly as an uninterrupted one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def as_distribution(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class indices (N,) as one-hot rows (N, K); distributions pass through."""
    return targets if targets.ndim == 2 else F.one_hot(targets, num_classes).float()


def mix_batch(images: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor | None,
              num_classes: int, mixup_alpha: float, cutmix_alpha: float, rng: np.random.Generator):
    """``(images, target distributions, teacher)`` after mixup or CutMix (one, drawn at random
    when both alphas are set); unchanged when both are 0."""
    alphas = [(kind, alpha) for kind, alpha in (("mixup", mixup_alpha), ("cutmix", cutmix_alpha))
              if alpha > 0]
    if not alphas:
        return images, targets, teacher
    kind, alpha = alphas[rng.integers(len(alphas))]
    share = float(rng.beta(alpha, alpha))
    partner = torch.from_numpy(rng.permutation(len(images))).to(images.device)
    if kind == "mixup":
        mixed = share * images + (1 - share) * images[partner]
    else:
        mixed, share = _paste_box(images, partner, share, rng)
    distributions = as_distribution(targets, num_classes)
    blended = share * distributions + (1 - share) * distributions[partner]
    if teacher is not None:
        teacher = share * teacher + (1 - share) * teacher[partner]
    return mixed, blended, teacher


def _paste_box(images: torch.Tensor, partner: torch.Tensor, share: float,
               rng: np.random.Generator) -> tuple[torch.Tensor, float]:
    """Paste a box of about ``1 - share`` of the area (clipped at the edges) from each partner;
    returns the share of the area each image keeps."""
    height, width = images.shape[-2:]
    ratio = math.sqrt(1 - share)
    box_height, box_width = round(height * ratio), round(width * ratio)
    centre_y, centre_x = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = max(centre_y - box_height // 2, 0), min(centre_y + (box_height + 1) // 2, height)
    left, right = max(centre_x - box_width // 2, 0), min(centre_x + (box_width + 1) // 2, width)
    mixed = images.clone()
    mixed[..., top:bottom, left:right] = images[partner][..., top:bottom, left:right]
    return mixed, 1 - (bottom - top) * (right - left) / (height * width)
