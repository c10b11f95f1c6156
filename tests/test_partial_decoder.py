"""Partial decoder: blocks 3 to 5 aggregated into one global map."""

import pytest
import torch

from training.models.layers.partial_decoder import PartialDecoder


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_partial_decoder_decodes_blocks_3_to_5_into_one_map_at_block_3_resolution():
    decoder = PartialDecoder((16, 24, 24), channels=8)
    block3 = torch.randn(2, 16, 12, 12, requires_grad=True)
    block4 = torch.randn(2, 24, 6, 6, requires_grad=True)
    block5 = torch.randn(2, 24, 3, 3, requires_grad=True)
    global_map = decoder(block3, block4, block5)
    assert global_map.shape == (2, 1, 12, 12)
    global_map.square().sum().backward()
    for block in (block3, block4, block5):
        assert block.grad.abs().sum() > 0  # every high-level block shapes the map


def test_partial_decoder_takes_exactly_three_blocks():
    with pytest.raises(ValueError, match="blocks 3, 4 and 5"):
        PartialDecoder((64, 128, 256, 512))
