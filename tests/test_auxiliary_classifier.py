"""The auxiliary classifier: a training-only loss on an intermediate map, never exported."""

import argparse
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training.checkpoint import ADDED_SINCE
from training.checkpoint_card import auxiliary_notes
from training.commands import train as train_command
from training.losses import TrainingObjective, build_loss, tapped_channels
from training.models import build_model
from training.recipes import RECIPES

COUNTS = [30, 5, 30, 60, 40, 25, 40]


def objective_for(feature_extractor: bool, weight: float = 0.5) -> TrainingObjective:
    torch.manual_seed(0)
    model = build_model("dcrnet", input_size=32)
    loss = build_loss("weighted_cross_entropy", COUNTS, auxiliary_weight=weight,
                      auxiliary_channels=tapped_channels(model, "backbone"))
    return TrainingObjective(model, loss, "backbone", feature_extractor).train()


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(8, 1, 32, 32, generator=generator), torch.randint(0, 7, (8,), generator=generator)


def test_the_loss_adds_the_weighted_auxiliary_cross_entropy_and_logits_are_the_models():
    objective = objective_for(feature_extractor=False)
    images, targets = batch()
    torch.manual_seed(2)
    loss, logits = objective(images, targets)
    objective.eval()
    with torch.no_grad():
        features = objective.model.backbone(images)
        expected_logits = objective.model(images)
        main = objective.loss.cross_entropy(expected_logits, targets)
        auxiliary = F.cross_entropy(objective.loss.auxiliary(features), targets,
                                    weight=objective.loss.weights)
        eval_loss, eval_logits = objective(images, targets)
    torch.testing.assert_close(eval_logits, expected_logits)
    torch.testing.assert_close(eval_loss, main + 0.5 * auxiliary)
    assert logits.shape == (8, 7) and loss.requires_grad


@pytest.mark.parametrize("feature_extractor", [True, False])
def test_a_feature_extractor_backbone_learns_from_the_auxiliary_classifier_alone(feature_extractor):
    objective = objective_for(feature_extractor)
    for module in objective.modules():  # the same forward pass for every loss below
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    images, targets = batch()
    objective(images, targets)[0].backward()
    backbone_gradient = objective.model.backbone[0][0].weight.grad.clone()
    head_gradient = objective.model.classifier.weight.grad
    assert head_gradient is not None and head_gradient.abs().sum() > 0

    objective.zero_grad()
    objective.feature_extractor = False  # this pass's map keeps its graph
    features = objective.model.backbone(images)
    auxiliary_only = 0.5 * objective.loss.cross_entropy(objective.loss.auxiliary(features), targets)
    auxiliary_only.backward()
    same = torch.allclose(backbone_gradient, objective.model.backbone[0][0].weight.grad, atol=1e-6)
    assert same == feature_extractor


def test_checkpoints_keep_the_auxiliary_classifier_and_the_model_does_not_hold_it():
    objective = objective_for(feature_extractor=True)
    assert {"auxiliary.classifier.weight", "auxiliary.classifier.bias"} <= set(objective.loss.state_dict())
    assert not any("auxiliary" in key for key in objective.model.state_dict())
    # the export rebuilds the registered architecture from the model's weights alone
    build_model("dcrnet", input_size=32).load_state_dict(objective.model.state_dict())


def test_wrong_or_half_configurations_are_refused_with_a_reason():
    model = build_model("mini_xception")
    with pytest.raises(ValueError, match="no submodule 'backbone'.*valid: \\["):
        tapped_channels(model, "backbone")
    loss = build_loss("cross_entropy", COUNTS)
    with pytest.raises(ValueError, match="needs the submodule it reads"):
        TrainingObjective(model, loss, "stem")
    with pytest.raises(ValueError, match="auxiliary weight"):
        replace(RECIPES["mini_xception"], auxiliary_weight=0.5)
    with pytest.raises(ValueError, match="channels of the map"):
        build_loss("cross_entropy", COUNTS, auxiliary_weight=0.5)


def test_dcrnet_trains_its_backbone_through_an_auxiliary_classifier_unless_switched_off(fer2013_root):
    recipe = RECIPES["dcrnet"]
    assert (recipe.auxiliary_from, recipe.auxiliary_feature_extractor) == ("backbone", True)
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    off = train_command.settings_from_args(parser.parse_args(
        ["--arch", "dcrnet", "--data", str(fer2013_root), "--auxiliary-weight", "0"]))
    assert off.recipe.auxiliary_from is None and not off.recipe.auxiliary_feature_extractor


def test_the_model_card_says_how_an_auxiliary_classifier_trained_the_backbone():
    recipe = RECIPES["mini_xception"]
    assert auxiliary_notes(replace(recipe, auxiliary_from=None, auxiliary_weight=0.0)) == []
    before = {key: ADDED_SINCE["settings"]["recipe"][key]  # checkpoints from before the option existed
              for key in ("auxiliary_from", "auxiliary_weight", "auxiliary_feature_extractor")}
    assert auxiliary_notes(replace(recipe, **before)) == []
    (note,) = auxiliary_notes(replace(recipe, auxiliary_from="backbone", auxiliary_weight=1.0,
                                      auxiliary_feature_extractor=True))
    assert note.startswith("backbone trained through an auxiliary linear classifier")
    assert "not exported" in note and "gradient stopped" in note
