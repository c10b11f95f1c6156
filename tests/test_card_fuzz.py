"""Model cards anyone can write: one crafted file once ended every feature that scans its
folder in a traceback (an OverflowError, a RecursionError, a TypeError while ranking), so
each field is checked by type and range when the card is read, a bad file is refused
from a scan with a warning, and the reader is fuzzed here with random JSON and nesting
for every key."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from app.api import EmotionRecognizer
from app.cli import main
from app.model.card import PREFIX, ModelCard, ModelCardError, checked_card
from app.model.library import MODELS_ENV, ModelEntry, describe_models
from app.model.onnx_header import TensorSignature
from tests.conftest import REPO_ROOT
from tests.onnx_fixtures import fer_card, linear_model, write_model, write_model_with_metadata

DEEP = "[" * 100_000 + "]" * 100_000
CRAFTED = {
    "channels_overflow": {"channels": "1e400"},
    "size_overflow": {"input_size": "[1e400, 48]"},
    "deep": {"training": DEEP},
    "deep_metrics": {"metrics": '{"val_accuracy": ' + DEEP + "}"},
    "accuracy_word": {"metrics": '{"test_accuracy": "high"}'},
    "accuracy_list": {"metrics": '{"test_accuracy": [0.9]}'},
    "accuracy_huge": {"metrics": '{"test_accuracy": 1e300}'},
}
"""What a fault pass put in a models folder: each ended --list-models, headless, batch and
EmotionRecognizer in a traceback, or (1e300) made itself the default with a 300-digit
percentage."""


@pytest.fixture
def crafted_folder(tmp_path, monkeypatch):
    """The only models folder searched: one good model and every crafted file."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setattr("app.model.library.REPO_MODELS_DIR", tmp_path / "none")
    monkeypatch.setenv(MODELS_ENV, str(folder))
    write_model(folder / "good.onnx", linear_model(), fer_card(architecture="good_arch",
                                                             metrics={"test_accuracy": 0.4}))
    for name, values in CRAFTED.items():
        write_model_with_metadata(folder / f"{name}.onnx", linear_model(seed=1), **values)
    return folder


def test_crafted_cards_are_refused_and_every_feature_that_scans_goes_on(
        crafted_folder, media_dir, tmp_path, capsys, caplog):
    assert main(["--list-models"]) == 0
    listing = capsys.readouterr().out
    assert "the default without --model: good," in listing
    refused = listing.split("Refused")[1]
    assert all(f"{name}.onnx: " in refused for name in CRAFTED)
    assert max(map(len, listing.splitlines())) < 400  # no 300-digit percentage, no 100,000 brackets
    assert "refusing" in caplog.text

    clip = media_dir / "pyfeat_single_face.mp4"
    assert main(["--headless", "--source", str(clip), "--max-frames", "2",
                 "--csv", str(tmp_path / "h.csv")]) == 0
    assert main(["batch", str(clip), "--out", str(tmp_path / "out"), "--max-frames", "2",
                 "--workers", "1"]) == 0
    with EmotionRecognizer() as recognizer:
        assert recognizer.model_path.name == "good.onnx"


def test_a_scripted_window_run_ends_beside_a_crafted_card(crafted_folder, media_dir, tmp_path):
    """With the metrics file present, a scripted window run never ended."""
    env = {**os.environ, MODELS_ENV: str(crafted_folder), "QT_QPA_PLATFORM": "offscreen"}
    completed = subprocess.run(
        [sys.executable, "-m", "app", "--source", str(media_dir / "pyfeat_single_face.mp4"),
         "--model", "good", "--quit-after-frames", "5", "--screenshot", str(tmp_path / "s.png")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "s.png").is_file()


# The fuzzer: random JSON text (with what json.dumps never writes: NaN, Infinity, 1e400,
# lone surrogates, nesting past the recursion limit) for each key of a valid card.

def random_json(rng: random.Random, depth: int = 0) -> str:
    kind = rng.randrange(12 if depth < 6 else 9)
    if kind == 0:
        return rng.choice(["null", "true", "false", "NaN", "Infinity", "-Infinity"])
    if kind == 1:
        return str(rng.choice([0, 1, -1, 3, 8, 48, 1024, 1025, 2 ** 31, 2 ** 63, -(10 ** 30)]))
    if kind == 2:
        return rng.choice(["1e400", "-1e400", "1e300", "1e-400", "-0.0", "0.5", "1.5", "-0.25"])
    if kind == 3:
        return str(rng.uniform(-2, 2))
    if kind == 4:
        return "9" * rng.choice([20, 400, 5000])
    if kind in (5, 6):
        return json.dumps(random_text(rng))
    if kind == 7:
        return rng.choice(['"\\ud800"', '"a\\u0000b"', '"\\u202e"', '"false"', '"abcdefg"', '""'])
    if kind == 8:
        return rng.choice(["[" * 50 + "]" * 50, "[" * 5000 + "]" * 5000, '{"a":' * 200 + "1" + "}" * 200])
    if kind in (9, 10):
        return "[" + ", ".join(random_json(rng, depth + 1) for _ in range(rng.randrange(5))) + "]"
    return "{" + ", ".join(f"{json.dumps(random_text(rng))}: {random_json(rng, depth + 1)}"
                           for _ in range(rng.randrange(4))) + "}"


def random_text(rng: random.Random) -> str:
    return rng.choice(["happy", "val_accuracy", "test_accuracy", "members", "name", "x" * 70,
                       "a\nb", "\x1b[2J", "=cmd", "caf\u00e9", "", "emotion", "1"])


def valid_metadata() -> dict[str, str]:
    card = fer_card(training={"members": [{"name": "first"}, {"name": "second"}]})
    return card.to_metadata()


SIGNATURE = ([TensorSignature("input", ("N", 1, 48, 48))], [TensorSignature("logits", ("N", 7))])


def test_the_card_reader_survives_random_values_for_every_key():
    rng = random.Random(33)
    metadata = valid_metadata()
    keys = [key for key in metadata if key != PREFIX + "schema"]
    accepted = 0
    for key in keys:
        for _ in range(250):
            crafted = dict(metadata, **{key: random_json(rng) if rng.random() < 0.9 else random_text(rng)})
            try:
                card = checked_card(crafted, *SIGNATURE, "fuzzed")
            except ModelCardError:
                continue
            accepted += 1
            assert_typed(card)
    assert accepted > 0  # some random values are valid ones


def test_nesting_and_overflow_at_every_key_are_refused_by_name():
    metadata = valid_metadata()
    for key in metadata:
        if key == PREFIX + "schema":
            continue
        for text in ("[" * 100_000 + "]" * 100_000, "1e400", "NaN"):
            if key.removeprefix(PREFIX) in ("architecture", "dataset", "version", "color_space",
                                            "alignment_template"):
                continue  # plain text keys: any text is a string, its own rules apply
            with pytest.raises(ModelCardError, match=key):
                ModelCard.from_metadata(dict(metadata, **{key: text}), "crafted")


def assert_typed(card: ModelCard) -> None:
    """A card that was accepted holds only values of the types it promises."""
    spec = card.preprocess
    assert all(isinstance(label, str) for label in card.labels) and len(card.labels) == 7
    assert all(type(side) is int and 8 <= side <= 1024 for side in spec.input_size)
    assert type(spec.channels) is int and type(spec.gamma) is bool
    assert all(type(value) is float and math.isfinite(value) for value in (*spec.mean, *spec.std))
    assert all(type(value) in (int, float) and math.isfinite(value) for value in card.metrics.values())
    entry = ModelEntry(Path("fuzzed.onnx"), card)
    assert len(entry.label) < 400 and len(entry.accuracy_text) < 100
    if entry.accuracy is not None:
        assert 0.0 <= entry.accuracy[1] <= 1.0


def test_listing_a_folder_of_fuzzed_files_never_fails(tmp_path, monkeypatch):
    rng = random.Random(3)
    metadata = valid_metadata()
    monkeypatch.setattr("app.model.library.REPO_MODELS_DIR", tmp_path)
    for index in range(40):
        key = rng.choice(list(metadata))
        values = {key.removeprefix(PREFIX): random_json(rng)}
        write_model_with_metadata(tmp_path / f"fuzzed{index}.onnx", linear_model(seed=index), **values)
    listing = describe_models([tmp_path])
    assert listing.count("fuzzed") >= 40


def members(*names: str) -> str:
    return json.dumps({"members": [{"name": name} for name in names]})


COERCED = [  # a value the reader once coerced into something else, and why it is refused now
    ({"gamma": '"false"'}, "gamma must be true or false"),  # it turned gamma on
    ({"labels": '"abcdefg"'}, "labels must be a list"),  # seven one-letter labels
    ({"std": "[Infinity]"}, "not JSON of finite numbers"),
    ({"mean": "[NaN]"}, "not JSON of finite numbers"),
    ({"channels": "true"}, "channels must be a whole number"),
    ({"input_size": "[48.5, 48]"}, "input_size must be a whole number"),
    ({"training": members("emotion", "emotion_smoothed")}, "would repeat a CSV column"),
    ({"training": members("a=1", "b")}, "member names must be names"),
    ({"training": members("first\nsecond", "b")}, "member names must be names"),
    ({"training": members("Mini", "mini")}, "member names must differ"),
    ({"training": '{"members": "mini"}'}, "training.members must be a list"),
]


@pytest.mark.parametrize("values, reason", COERCED, ids=[str(values) for values, _ in COERCED])
def test_card_values_are_checked_not_coerced(values, reason):
    metadata = valid_metadata()
    metadata.update({PREFIX + key: value for key, value in values.items()})
    with pytest.raises(ModelCardError, match=reason):
        ModelCard.from_metadata(metadata, "crafted")
