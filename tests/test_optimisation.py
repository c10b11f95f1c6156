"""Weight decay reaches the parameters the recipe names, and only those."""

import argparse

import pytest
import torch
from torch import nn

from training.commands import train as train_command
from training.optimisation import make_optimiser
from training.recipes import RECIPES, OptimiserRecipe
from training.settings import TrainSettings


def small_network() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 8), nn.ReLU(), nn.Linear(8, 3))


def decay_by_parameter(optimiser: torch.optim.Optimizer) -> dict[int, float]:
    return {id(parameter): group["weight_decay"]
            for group in optimiser.param_groups for parameter in group["params"]}


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_dense_scope_decays_the_fully_connected_weights_alone(name):
    network = small_network()
    optimiser = make_optimiser(OptimiserRecipe(name, 1e-3, weight_decay=1e-3, weight_decay_on="dense"),
                               network)
    decay = decay_by_parameter(optimiser)
    assert len(decay) == len(list(network.parameters()))  # nothing trainable is left out
    decayed = {id(network[4].weight), id(network[6].weight)}
    for parameter in network.parameters():
        assert decay[id(parameter)] == (1e-3 if id(parameter) in decayed else 0.0)


def test_all_scope_decays_every_parameter():
    network = small_network()
    optimiser = make_optimiser(OptimiserRecipe("adam", 1e-3, weight_decay=5e-4), network)
    assert set(decay_by_parameter(optimiser).values()) == {5e-4}


@pytest.mark.parametrize("scope, shrinks", [("all", True), ("dense", False)])
def test_coupled_decay_under_adam_drives_an_idle_batchnorm_scale_to_zero(scope, shrinks):
    """Why DCRNet's recipe scopes its L2: Adam normalises the decay term, so a scale with no
    loss gradient moves by about lr a step however small the decay is."""
    network = small_network()
    optimiser = make_optimiser(OptimiserRecipe("adam", 1e-2, weight_decay=1e-3, weight_decay_on=scope),
                               network)
    scale, images = network[1].weight, torch.randn(2, 1, 8, 8)
    for _ in range(50):
        optimiser.zero_grad()
        (network(images).sum() * 0.0).backward()  # every gradient is there, and zero
        optimiser.step()
    if shrinks:
        assert scale.max().item() < 0.6
    else:
        torch.testing.assert_close(scale.detach(), torch.ones(4))


def test_dcrnet_recipe_puts_the_papers_l2_on_its_dense_layers():
    assert RECIPES["dcrnet"].optimiser.weight_decay_on == "dense"
    assert RECIPES["mini_xception"].optimiser.weight_decay_on == "all"


def test_an_unknown_scope_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"valid: \['all', 'dense'\]"):
        OptimiserRecipe("adam", 1e-3, weight_decay_on="conv")


def test_settings_saved_before_the_scope_existed_load_as_decaying_everything(fer2013_root):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    settings = train_command.settings_from_args(
        parser.parse_args(["--arch", "mini_xception", "--data", str(fer2013_root)]))
    saved = settings.to_dict()
    del saved["recipe"]["optimiser"]["weight_decay_on"]
    assert TrainSettings.from_dict(saved).recipe.optimiser.weight_decay_on == "all"
