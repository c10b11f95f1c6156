"""Test-time views at run time: the app samples the crop exactly as the graphs that once
carried the views did, a file with views or a mirror inside gives its plain model back,
and ``emotion-train views`` records on the card what the app then reads, chosen on val."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from app.model.card import read_card
from app.model.inference import EmotionClassifier, softmax
from app.model.views import VIEW_SETS, View, ViewPlan, expand, pool, sample, views_of
from tests.onnx_fixtures import fer_card, linear_model, write_ensemble, write_model
from training.cli import main
from training.view_graph import build_graph, inner_model, is_wrapped, plain_model, without_mirror

CPU = ["CPUExecutionProvider"]


def run(model: onnx.ModelProto, batch: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=CPU)
    return session.run(None, {"input": batch})


@pytest.fixture()
def crops():
    return np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32)


def mirror_averaged(seed: int) -> onnx.ModelProto:
    """A small convolutional model exported with its logits averaged over the mirror image,
    as ``emotion-train export --mirror-average`` made files before run-time views."""
    torch.manual_seed(seed)
    inner = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, stride=4), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 11 * 11, 7))

    class Mirrored(torch.nn.Module):
        def forward(self, images):
            count = images.shape[0]
            logits = inner(torch.cat([images, images.flip(-1)]))
            return (logits[:count] + logits[count:]) / 2

    program = torch.onnx.export(Mirrored().eval(), (torch.randn(2, 1, 48, 48),), input_names=["input"],
                                output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch")},),
                                opset_version=18, dynamo=True, verbose=False)
    return program.model_proto


def test_the_app_samples_each_view_as_the_graphs_grid_sample_did(crops):
    model = linear_model(seed=1)
    shifted = View(shift_x=2 / 48, shift_y=-2 / 48)
    for view in (View(degrees=6.0), View(scale=0.92), View(scale=1.08), shifted):
        in_graph = np.exp(run(build_graph(model, [view], 1, 48, 7), crops)[0])
        at_run_time = softmax(run(model, sample(crops, view))[0])
        np.testing.assert_allclose(at_run_time, in_graph, atol=1e-5)
    right = sample(crops, View(shift_x=1 / 48))  # one whole pixel right, the border repeated
    np.testing.assert_allclose(right, np.concatenate([crops[..., :1], crops[..., :-1]], axis=3), atol=1e-6)


def test_pool_averages_logits_over_the_mirror_and_probabilities_over_the_views(crops):
    model = linear_model(seed=2)
    views = views_of(["rotate"])
    logits = run(model, expand(crops, views, True))[0]
    assert logits.shape == (3 * 3 * 2, 7)
    probabilities, _ = pool(logits, len(views), True)
    expected = np.mean([softmax((run(model, sample(crops, view))[0]
                                 + run(model, sample(crops, view)[..., ::-1].copy())[0]) / 2)
                        for view in views], axis=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert expand(crops, views_of([]), False) is crops  # none: the batch as it is


def test_a_mirror_and_views_file_gives_back_the_plain_model_that_reads_the_same(crops):
    mirrored = mirror_averaged(seed=3)
    wrapped = build_graph(mirrored, views_of(["zoom"]), 1, 48, 7)
    plain, had_mirror = plain_model(wrapped)
    assert had_mirror and is_wrapped(wrapped) and not is_wrapped(plain)
    assert without_mirror(plain) == (plain, False)
    onnx.checker.check_model(plain, full_check=True)
    read, _ = pool(run(plain, expand(crops, views_of(["zoom"]), True))[0], 3, True)
    np.testing.assert_allclose(read, np.exp(run(wrapped, crops)[0]), atol=1e-5)
    assert inner_model(mirrored) is mirrored


def test_an_ensembles_members_are_pooled_over_the_views_too(tmp_path, crops):
    members = [write_model(tmp_path / f"m{seed}.onnx", linear_model(seed=seed), fer_card())
               for seed in (3, 4)]
    path = write_ensemble(tmp_path / "ensemble.onnx", members)
    proto = onnx.load(str(path))
    replace(read_card(path), views=ViewPlan(("rotate",), True)).embed(proto)
    onnx.save_model(proto, str(path))
    classifier = EmotionClassifier(path, CPU)
    prediction = classifier.predict(crops, "all")
    _, members_each = run(onnx.load(str(path)), expand(crops, views_of(["rotate"]), True))
    np.testing.assert_allclose(prediction.members, members_each.reshape(3, 6, 2, 7).mean(axis=1), atol=1e-6)
    assert prediction.probabilities.shape == (3, 7)
    assert classifier.predict(crops, "none").members.shape == (3, 2, 7)


def test_a_plan_names_its_reads_and_refuses_unknown_sets_and_settings():
    plan = ViewPlan(("rotate", "zoom"), True)
    assert [plan.reads(setting) for setting in ("none", "mirror", "all")] == [1, 2, 10]
    assert ViewPlan().distinct() == ("none",) and plan.distinct() == ("none", "mirror", "all")
    assert ViewPlan.from_values(plan.to_values()) == plan
    with pytest.raises(ValueError, match="valid: rotate, zoom, shift"):
        ViewPlan(("tilt",))
    with pytest.raises(ValueError, match="valid: none, mirror, all"):
        plan.views("some")
    assert len(views_of(list(VIEW_SETS))) == 9


def test_views_writes_a_plain_file_whose_card_the_app_reads(fer2013_root, mini_xception_onnx, tmp_path,
                                                             capsys):
    out = tmp_path / "mini_views.onnx"
    assert main(["views", str(mini_xception_onnx), "--views", "rotate", "--mirror", "--data",
                 str(fer2013_root), "--out", str(out)]) == 0
    card = read_card(out)
    assert card.views.sets == ("rotate",) and card.views.mirror and card.views.chosen_on == "FER2013 val"
    assert set(card.views.val_accuracy) == {"none", "mirror", "all"}
    assert card.metrics["val_accuracy"] == card.views.val_accuracy["all"]
    assert card.training["views_command"].startswith("emotion-train views")
    assert "test_accuracy" not in card.metrics and "6 inferences per face" in card.training["test_time"]
    classifier = EmotionClassifier(out, CPU)
    assert classifier.logits(np.zeros((2, 1, 48, 48), np.float32)).shape == (2, 7)  # one read per crop
    printed = capsys.readouterr().out
    assert "--views all: 6 reads per face" in printed
    evaluated = tmp_path / "reports"
    assert main(["evaluate", str(out), "--data", str(fer2013_root), "--split", "val",
                 "--out-dir", str(evaluated)]) == 0
    assert f"accuracy {card.metrics['val_accuracy']:.2%}" in capsys.readouterr().out


def test_views_refuses_test_and_overwriting(fer2013_root, mini_xception_onnx, tmp_path, caplog):
    out = tmp_path / "mini_views.onnx"
    assert main(["views", str(mini_xception_onnx), "--search", "--data", str(fer2013_root),
                 "--split", "test", "--out", str(out)]) == 2
    assert "chosen on a validation split" in caplog.text and not out.exists()
    assert main(["views", str(mini_xception_onnx), "--views", "zoom", "--out", str(out)]) == 0
    assert main(["views", str(mini_xception_onnx), "--views", "zoom", "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in caplog.text
    assert main(["views", str(mini_xception_onnx), "--views", "shift", "--out", str(mini_xception_onnx)]) == 2
    assert "--out must differ" in caplog.text
    assert main(["views", str(mini_xception_onnx), "--search", "--views", "zoom", "--out", str(out)]) == 2
    assert "either --views" in caplog.text
    assert main(["views", str(mini_xception_onnx), "--search", "--data", str(fer2013_root), "--max-p", "0",
                 "--out", str(out)]) == 2
    assert "--max-p must be in (0, 1]" in caplog.text
