"""Ensembles: one ONNX file built from member files, averaging their probabilities, with a
card listing them; the members it refuses; choosing members and weights on val only."""

import json
import shutil
from dataclasses import replace

import numpy as np
import onnx
import pytest

from app.face import preprocess
from app.model import card as model_card
from app.model.card import MEMBER_OUTPUT_NAME, read_card
from app.model.inference import EmotionClassifier
from tests.conftest import REPO_ROOT
from tests.onnx_fixtures import fer_card, linear_model, write_ensemble, write_model
from training.cli import main as emotion_train
from training.data.labels import FER2013_LABELS
from training.ensemble_graph import EnsembleError, load_members
from training.export import weights_sha256

CPU = ["CPUExecutionProvider"]
SHIPPED_MINI_XCEPTION = REPO_ROOT / "models_onnx" / "mini_xception.onnx"


def member(tmp_path, name, seed=0, size=48, **card):
    return write_model(tmp_path / f"{name}.onnx", linear_model(size=size, seed=seed),
                       fer_card(input_size=(size, size), **card))


def ensemble(tmp_path, paths, weights=None, input_size=None):
    return write_ensemble(tmp_path / "ensemble.onnx", paths, weights, input_size)


def batch(size, count=3, seed=0):
    return np.random.default_rng(seed).standard_normal((count, 1, size, size)).astype(np.float32)


def test_an_ensemble_loads_like_any_model_and_averages_its_members_with_weights(tmp_path):
    a, b = member(tmp_path, "a", seed=1), member(tmp_path, "b", seed=2)
    path = ensemble(tmp_path, [a, b], weights=[1, 3])
    classifier = EmotionClassifier(path, CPU)
    classifier.test_run()
    x = batch(48)
    prediction = classifier.predict(x)
    own = [EmotionClassifier(p, CPU).probabilities(x) for p in (a, b)]
    assert classifier.member_names == ("a", "b") and prediction.members.shape == (3, 2, 7)
    np.testing.assert_allclose(prediction.members[:, 0], own[0], atol=1e-6)
    np.testing.assert_allclose(prediction.members[:, 1], own[1], atol=1e-6)
    np.testing.assert_allclose(prediction.probabilities, 0.25 * own[0] + 0.75 * own[1], atol=1e-6)
    np.testing.assert_allclose(np.exp(classifier.logits(x)), prediction.probabilities, atol=1e-6)
    listed = read_card(path).training["members"]
    assert [(m["name"], m["architecture"], m["file"], m["weight"]) for m in listed] == [
        ("a", "linear_probe", "a.onnx", 0.25), ("b", "linear_probe", "b.onnx", 0.75)]
    assert listed[0]["weights_sha256"] == weights_sha256(a) != listed[1]["weights_sha256"]


def test_a_single_model_has_no_member_output():
    single = EmotionClassifier(SHIPPED_MINI_XCEPTION, CPU) if SHIPPED_MINI_XCEPTION.is_file() else None
    if single is None:
        pytest.skip(f"needs the shipped {SHIPPED_MINI_XCEPTION}")
    prediction = single.predict(batch(48))
    assert single.member_names == () and prediction.members is None


def test_other_input_sizes_and_normalisations_are_folded_into_the_graph(tmp_path):
    a = member(tmp_path, "a", seed=1, mean=(0.5,), std=(0.25,))
    b = member(tmp_path, "b", seed=2, size=24, mean=(0.4,), std=(0.2,))
    path = ensemble(tmp_path, [a, b])
    classifier = EmotionClassifier(path, CPU)
    assert classifier.card.preprocess.input_size == (48, 48)  # the largest member's
    # A uniform grey crop is the same at any size, so each member must see exactly what
    # its own preprocessing makes of it: Resize, then its mean and std.
    grey = np.array([0.2, 0.55, 0.9], np.float32).reshape(3, 1, 1, 1)
    members = classifier.predict(np.broadcast_to((grey - 0.5) / 0.25, (3, 1, 48, 48))).members
    own_b = EmotionClassifier(b, CPU).probabilities(np.broadcast_to((grey - 0.4) / 0.2, (3, 1, 24, 24)))
    np.testing.assert_allclose(members[:, 1], own_b, atol=1e-5)
    smaller = EmotionClassifier(ensemble(tmp_path, [a, b], input_size=24), CPU)
    assert smaller.card.preprocess.input_size == (24, 24)
    assert smaller.predict(batch(24)).members.shape == (3, 2, 7)


def test_a_member_with_its_labels_in_another_order_is_reordered(tmp_path):
    a = member(tmp_path, "a", seed=1)
    order = [6, 5, 4, 3, 2, 1, 0]
    model = linear_model(seed=1)
    weight = onnx.numpy_helper.to_array(model.graph.initializer[0])[:, order]
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(weight, "weight"))
    b = write_model(tmp_path / "b.onnx", model, fer_card(labels=tuple(FER2013_LABELS[i] for i in order)))
    members = EmotionClassifier(ensemble(tmp_path, [a, b]), CPU).predict(batch(48)).members
    np.testing.assert_allclose(members[:, 1], members[:, 0], atol=1e-6)  # the same model, reordered


def other_template(monkeypatch, tmp_path):
    templates = dict(preprocess.available_templates(), **{"other-template-v1": tmp_path})
    monkeypatch.setattr(preprocess, "available_templates", lambda: templates)
    return dict(alignment_template="other-template-v1")


@pytest.mark.parametrize("changes, reason", [
    (dict(labels=("angry", "happy", "sad", "surprise", "neutral", "fear", "calm")), "not those of a"),
    (dict(gamma=False), "adaptive gamma is off"),
    (dict(landmark_emphasis=0.5), "landmark emphasis is 0.5, a's 0"),
    (dict(channels=3, color_space="rgb", mean=(0.5,) * 3, std=(0.25,) * 3), "3-channel rgb"),
    ("template", "aligned to 'other-template-v1'"),
])
def test_members_that_cannot_be_folded_are_refused_naming_the_member(tmp_path, monkeypatch, changes,
                                                                       reason):
    if changes == "template":
        changes = other_template(monkeypatch, tmp_path)
    a = member(tmp_path, "a")
    channels = changes.get("channels", 1)
    b = write_model(tmp_path / "b.onnx", linear_model(channels=channels), fer_card(**changes))
    with pytest.raises(EnsembleError, match=f"member {b} cannot join the ensemble: .*{reason}"):
        load_members([a, b])


def test_unusable_member_files_are_refused_with_the_reason(tmp_path):
    a = member(tmp_path, "a")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a model")
    foreign = write_model(tmp_path / "foreign.onnx", linear_model())
    nested = ensemble(tmp_path, [a, member(tmp_path, "b", seed=2)])
    copy = tmp_path / "again" / "a.onnx"
    copy.parent.mkdir()
    shutil.copy(a, copy)
    for paths, message in (([a, corrupt], "not a readable ONNX model"),
                           ([a, foreign], "not an emotion model"),
                           ([a, nested], "is itself an ensemble \\(of a, b\\)"),
                           ([a, copy], "two members are named 'a'")):
        with pytest.raises(EnsembleError, match=message):
            load_members(paths)


def test_the_command_chooses_members_and_weights_on_val_and_never_on_test(tmp_path, fer2013_root, caplog):
    if not SHIPPED_MINI_XCEPTION.is_file():
        pytest.skip(f"needs the shipped {SHIPPED_MINI_XCEPTION}")
    mini = shutil.copy(SHIPPED_MINI_XCEPTION, tmp_path / "mini_xception.onnx")
    spec = read_card(mini).preprocess
    probe = member(tmp_path, "probe", mean=spec.mean, std=spec.std, gamma=spec.gamma)
    out = tmp_path / "out" / "ensemble.onnx"
    common = [str(mini), str(probe), "--search", "--data", str(fer2013_root), "--weight-grid", "0", "1",
              "--out", str(out)]
    assert emotion_train(["ensemble", *common, "--split", "test"]) == 2
    assert "chosen on a validation split, not 'test'" in caplog.text
    assert not out.exists()
    assert emotion_train(["ensemble", *common, "--fp16"]) == 0
    card = read_card(out)
    alone = read_card(mini).views.val_accuracy["none"]  # an ensemble reads its members once
    # The default rule keeps a member unless leaving it out helps by more than noise.
    assert card.metrics["val_accuracy"] >= alone - 0.01
    assert any("backward elimination" in note for note in card.training["notes"])
    grid = tmp_path / "out" / "grid.onnx"
    assert emotion_train(["ensemble", *common[:-1], str(grid), "--rule", "grid"]) == 0
    # mini_xception alone is a candidate of the grid, so its choice scores at least as well on val.
    assert read_card(grid).metrics["val_accuracy"] >= alone - 1e-3
    assert "fp16_accuracy_change" in card.metrics and card.training["weights"].startswith("float16")
    assert card.training["ensemble_command"].startswith("emotion-train ensemble ")
    assert any("chosen on FER2013 val" in note for note in card.training["notes"])
    assert json.dumps(card.training["members"])  # the card stays plain JSON
    assert not list(out.parent.glob("*.partial*"))


def test_the_member_output_must_match_the_card(tmp_path):
    a, b = member(tmp_path, "a", seed=1), member(tmp_path, "b", seed=2)
    path = ensemble(tmp_path, [a, b])
    model = onnx.load(str(path))
    card = read_card(path)
    replace(card, training={**card.training, "members": card.training["members"][:1]}).embed(model)
    onnx.save_model(model, str(tmp_path / "wrong.onnx"))
    with pytest.raises(model_card.ModelCardError, match=f"'{MEMBER_OUTPUT_NAME}' has shape"):
        read_card(tmp_path / "wrong.onnx")


def test_the_models_readme_lists_an_ensembles_members(tmp_path):
    from training.model_cards import model_section

    path = ensemble(tmp_path, [member(tmp_path, "a", seed=1), member(tmp_path, "b", seed=2)], [1, 3])
    text = "\n".join(model_section(path, read_card(path), tmp_path, None))
    assert "- Built with: `hand-built test ensemble`" in text
    assert "- Member `b.onnx` (linear_probe): weight 0.750 in the average, weights SHA-256 `" in text


def test_rebuilding_from_a_folder_leaves_out_the_ensemble_being_rebuilt(tmp_path):
    member(tmp_path, "a", seed=1), member(tmp_path, "b", seed=2)
    out = tmp_path / "ensemble.onnx"
    for rebuild in (False, True):  # the second is given its own output among the members, as *.onnx does
        argv = ["ensemble", *map(str, sorted(tmp_path.glob("*.onnx"))), "--out", str(out)]
        if rebuild:
            assert emotion_train(argv) == 2  # an existing file is replaced only when asked
        assert emotion_train(argv + ["--overwrite"] * rebuild) == 0
    card = read_card(out)
    assert card.member_names == ("a", "b") and card.metrics == {}  # no --data: nothing measured
