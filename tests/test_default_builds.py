"""The default build of every architecture must not change: runs in progress resume from
checkpoints whose state_dict keys and shapes were fixed when they started, and a fresh
run with the same seed must start from the same weights. The digests below were
computed from the code before the ablation switches were added."""

import hashlib

import pytest
import torch

from training.models import ARCHITECTURES, build_model

# name: (parameters, state_dict entries, digest of "key shape" lines, digest of
# "module-name type" lines, sum of the initial weights under torch.manual_seed(0))
DEFAULT_BUILDS = {
    "dcrnet": (11142628, 847, "fdc7477d9112ea56", "0f61c9c827ea53ee", 43308.12398530672),
    "mini_xception": (56951, 94, "1098d5da20fe3201", "a15de05717935787", 747.7334621769037),
    "mobilenetv3_dilated_simam": (2745383, 190, "aa417190e625dd09", "0b5e6865a8ca9376", 13463.279042535716),
    "vgg16_gcca_pdra": (15658313, 225, "cb285aaa55300819", "01e73d44e2cbe1c4", 5233.562072924821),
    "yolov8_dyconv_gam": (8037071, 360, "684b25c21f097cd6", "a0c4101be1a3f621", 4019.9403084390733),
}


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def test_every_architecture_is_pinned():
    assert set(DEFAULT_BUILDS) == set(ARCHITECTURES)


@pytest.mark.parametrize("name", sorted(DEFAULT_BUILDS))
def test_default_build_is_unchanged(name):
    parameters, entries, state_digest, module_digest, weight_sum = DEFAULT_BUILDS[name]
    torch.manual_seed(0)
    model = build_model(name)
    state = model.state_dict()
    assert sum(parameter.numel() for parameter in model.parameters()) == parameters
    assert len(state) == entries
    shapes = [f"{key} {' '.join(map(str, value.shape))}" for key, value in state.items()]
    modules = [f"{key} {type(module).__name__}" for key, module in model.named_modules()]
    assert digest(shapes) == state_digest and digest(modules) == module_digest
    total = sum(float(parameter.detach().double().sum()) for parameter in model.parameters())
    assert total == pytest.approx(weight_sum, rel=1e-9, abs=1e-6)
