"""A model's time per face here is measured once, remembered per file and machine, and
measured again when the file changes (``app.model.speed``)."""

import math

from app.model.speed import measure_ms, remembered_ms, speed_text
from tests.onnx_fixtures import fer_card, linear_model, write_model


def test_a_measured_time_is_remembered_until_the_file_changes(tmp_path):
    model = write_model(tmp_path / "m.onnx", linear_model(seed=1), fer_card())
    assert remembered_ms(model, tmp_path) is None
    milliseconds = measure_ms(model, tmp_path)
    assert 0 < milliseconds < 1000 and remembered_ms(model, tmp_path) == milliseconds
    write_model(model, linear_model(seed=2), fer_card(metrics={"val_accuracy": 0.5}))
    assert remembered_ms(model, tmp_path) is None  # another file now: measured afresh


def test_the_menus_text():
    assert speed_text(None) == "speed: measuring\u2026"
    assert speed_text(2.44) == "2.4 ms/face here" and speed_text(23.5) == "24 ms/face here"
    assert speed_text(math.nan) == "speed unknown"
