"""VGG16 + GCCA + partial decoder + reverse attention, and its joint loss with the island loss."""

import pytest
import torch
from torch import nn

from tests.onnx_fixtures import fer_card
from training.export import export_onnx, parity_error
from training.losses.island import IslandLoss
from training.models import build_model
from training.models.layers.gcca import GCCA

VGG16_WIDTHS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("vgg16_gcca_pdra").eval()


def test_backbone_is_vgg16_without_last_pool_or_fc_with_gcca_closing_every_block(model):
    convolutions = [[layer for layer in block if isinstance(layer, nn.Conv2d)] for block in model.blocks]
    assert [[conv.out_channels for conv in block] for block in convolutions] == VGG16_WIDTHS
    assert {conv.kernel_size for block in convolutions for conv in block} == {(3, 3)}
    for block, block_widths in zip(model.blocks, VGG16_WIDTHS):
        gcca = block[-1]
        assert isinstance(gcca, GCCA) and gcca.fuse.out_channels == block_widths[-1]
    pools = [layer for layer in model.blocks.modules() if isinstance(layer, nn.MaxPool2d)]
    assert len(pools) == 4 and not isinstance(model.blocks[-1][-1], nn.MaxPool2d)
    assert not any(isinstance(layer, nn.Linear) for layer in model.blocks.modules())
    with torch.no_grad():
        sizes = [output.shape[-1] for output in model.block_outputs(torch.randn(1, 1, 48, 48)).values()]
    assert sizes == [48, 24, 12, 6, 3]


def test_decoder_reads_blocks_3_to_5_and_reverse_attention_runs_5_4_3_from_its_map(model):
    seen = {}

    def record(key):
        return lambda _, inputs, output: seen.update({key: (inputs, output)})

    hooks = [model.decoder.register_forward_hook(record("decoder"))]
    for number, attention in zip((5, 4, 3), model.reverse_attention):
        hooks.append(attention.register_forward_hook(record(number)))
    images = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        blocks = model.block_outputs(images)
        model.forward_features(images)
    for hook in hooks:
        hook.remove()
    decoder_inputs, global_map = seen["decoder"]
    for given, number in zip(decoder_inputs, (3, 4, 5)):
        torch.testing.assert_close(given, blocks[number])
    assert global_map.shape == (2, 1, 12, 12)
    deeper = global_map
    for number in (5, 4, 3):
        (features, given_map), (_, side_map) = seen[number]
        torch.testing.assert_close(features, blocks[number])
        torch.testing.assert_close(given_map, deeper)
        deeper = side_map


def test_edge_branch_is_a_single_kernel_on_block_2(model):
    assert model.edge.in_channels == 128 and model.edge.out_channels == 1


def test_head_is_the_classifier_of_the_embedding(model):
    with torch.no_grad():
        features = model.forward_features(torch.randn(3, 1, 48, 48))
        embedding = model.forward_embedding(features)
        torch.testing.assert_close(model.forward_head(features), model.classifier(embedding))
    assert embedding.shape == (3, model.embedding_dim)
    assert model.classifier.in_features == model.embedding_dim


def test_joint_loss_trains_the_network_and_moves_the_centres():
    torch.manual_seed(0)
    network = build_model("vgg16_gcca_pdra").train()
    island = IslandLoss(7, network.embedding_dim).train()
    labels = torch.tensor([0, 1, 2, 3])
    embedding = network.forward_embedding(network.forward_features(torch.randn(4, 1, 32, 32)))
    cross_entropy = nn.functional.cross_entropy(network.classifier(embedding), labels)
    loss = cross_entropy + 0.005 * island(embedding, labels)
    loss.backward()
    assert torch.isfinite(loss)
    assert network.blocks[0][0].weight.grad.abs().sum() > 0
    assert island.centers[:4].abs().sum() > 0 and island.centers[4:].abs().sum() == 0


@pytest.mark.slow
def test_exports_with_parity_after_batch_statistics_are_set(tmp_path):
    """At random init BatchNorm's unit running statistics shrink the signal to nothing;
    real statistics make the parity check see GCCA, the decoder and the resizes at work."""
    torch.manual_seed(0)
    network = build_model("vgg16_gcca_pdra")
    for layer in network.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.reset_running_stats()
            layer.momentum = None  # running statistics = this batch's
    with torch.no_grad():
        network.train()(torch.randn(16, 1, 48, 48))
    network.eval()
    with torch.no_grad():
        spread = network(torch.randn(8, 1, 48, 48)).std(dim=0).mean()
    path = export_onnx(network, fer_card(architecture="vgg16_gcca_pdra"), tmp_path / "vgg.onnx")
    assert parity_error(network, path, batch_sizes=(1, 8)) < 1e-4 * max(1.0, spread.item())
    assert spread > 1e-3
