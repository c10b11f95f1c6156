"""Finding models by folder, name and card; refusing bad files with the card's reason."""

import os
import shutil
import sys

import pytest

from app.model import library as model_library
from app.model.card import ModelCardError
from app.model.library import default_model, describe_models, model_dirs, resolve_model, scan_models
from tests.onnx_fixtures import fer_card, linear_model, write_model


@pytest.fixture
def library(tmp_path, mini_xception_onnx):
    """A models folder with a real model, a second model, a corrupt file and a foreign one."""
    shutil.copy(mini_xception_onnx, tmp_path / "mini_xception.onnx")
    write_model(tmp_path / "probe_a.onnx", linear_model(),
                fer_card(metrics={"val_accuracy": 0.4, "test_accuracy": 0.42}))
    write_model(tmp_path / "probe_b.onnx", linear_model(seed=1), fer_card(metrics={"val_accuracy": 0.6}))
    (tmp_path / "corrupt.onnx").write_bytes(b"not a model")
    write_model(tmp_path / "foreign.onnx", linear_model())
    return tmp_path


def test_scan_reads_cards_and_lists_refusals_with_reasons(library):
    entries, refused = scan_models([library])
    assert [e.name for e in entries] == ["mini_xception", "probe_a", "probe_b"]
    assert {r.path.name: r.reason for r in refused}.keys() == {"corrupt.onnx", "foreign.onnx"}
    reasons = " ".join(r.reason for r in refused)
    assert "not a readable ONNX model" in reasons and "not an emotion model" in reasons


def test_entry_label_shows_name_accuracy_and_input(library):
    entries, _ = scan_models([library])
    probe_a = next(e for e in entries if e.name == "probe_a")
    assert probe_a.accuracy == ("test_accuracy", 0.42)  # test beats validation
    assert probe_a.label == "probe_a \u00b7 val 40.0%, test 42.0% \u00b7 48x48 gray"
    probe_b = next(e for e in entries if e.name == "probe_b")
    assert probe_b.accuracy_text == "val 60.0%, test not measured"  # never a lone val figure


def test_the_default_is_the_most_accurate_by_test_figure_else_validation(library, tmp_path):
    entries, _ = scan_models([library])
    # probe_b: 60 % val; mini_xception (its fixture card): 50 % val; probe_a: 42 % test.
    assert default_model(entries).name == "probe_b"
    assert "* probe_b" in describe_models([library])
    write_model(library / "probe_c.onnx", linear_model(seed=2),
                fer_card(metrics={"val_accuracy": 0.3, "test_accuracy": 0.61}))
    assert default_model(scan_models([library])[0]).name == "probe_c"
    write_model(library / "a_tie.onnx", linear_model(seed=3), fer_card(metrics={"test_accuracy": 0.61}))
    assert default_model(scan_models([library])[0]).name == "a_tie"  # a tie: the first by name
    assert default_model([]) is None


def test_resolve_by_stem_architecture_or_path(library):
    assert resolve_model("mini_xception", [library]).name == "mini_xception.onnx"
    # Two files of the architecture linear_probe: the more accurate one (by its card).
    assert resolve_model("linear_probe", [library]).name == "probe_b.onnx"
    assert resolve_model(library / "probe_a.onnx", [library]).name == "probe_a.onnx"


def test_resolve_refuses_unknown_names_and_bad_files(library, tmp_path):
    with pytest.raises(ModelCardError, match="no model named 'vgg99'.*installed: mini_xception"):
        resolve_model("vgg99", [library])
    with pytest.raises(ModelCardError, match="not a readable ONNX model"):
        resolve_model("corrupt", [library])
    with pytest.raises(ModelCardError, match="no such model file"):
        resolve_model(tmp_path / "absent.onnx", [library])


def test_folders_env_var_repo_and_frozen_bundle(monkeypatch, tmp_path):
    monkeypatch.setenv(model_library.MODELS_ENV, f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    assert model_dirs() == [tmp_path / "a", tmp_path / "b", model_library.REPO_MODELS_DIR,
                            tmp_path / "bundle" / "models_onnx"]


def test_describe_lists_models_or_says_how_to_get_one(library, tmp_path_factory):
    text = describe_models([library])
    assert "mini_xception" in text and "Refused" in text and "corrupt.onnx" in text
    table = text.split("Refused")[0].splitlines()
    assert all(len(line) <= model_library.LISTING_WIDTH for line in table[1:]), table
    header = next(line for line in table if "NAME" in line)
    assert header.index("VAL") < header.index("TEST")
    probe_a = next(line for line in table if "probe_a" in line)
    assert "probe_a (linear_probe)" in probe_a and "40.0%" in probe_a and "42.0%" in probe_a
    empty = tmp_path_factory.mktemp("empty")
    text = describe_models([empty])
    assert text.startswith("No models found") and "emotion-train" in text
    with pytest.raises(ModelCardError, match="installed: none.*emotion-train"):
        resolve_model("mini_xception", [empty])
