"""``emotion-train cards``: the models README comes from the cards inside the ONNX files."""

from tests.onnx_fixtures import fer_card, linear_model, write_model
from training.cli import main


def test_table_and_sections_from_the_cards(tmp_path, capsys):
    models, figures = tmp_path / "models_onnx", tmp_path / "docs"
    models.mkdir()
    figures.mkdir()
    training = {"command": "emotion-train train --arch linear_probe --data fer2013", "epochs": 12,
                "seconds": 5400.0, "parameters": 16135, "weights_sha256": "ab" * 32,
                "resumed": ["emotion-train train --resume --out runs/linear_probe"],
                "notes": ["trained from scratch"]}
    write_model(models / "linear_probe.onnx", linear_model(),
                fer_card(metrics={"val_accuracy": 0.6612, "val_macro_f1": 0.6432}, training=training))
    write_model(models / "bare.onnx", linear_model(seed=1), fer_card(architecture="bare", metrics={}))
    (figures / "linear_probe_val_confusion.png").write_bytes(b"\x89PNG")
    assert main(["cards", str(models), "--figures", str(figures)]) == 0
    text = capsys.readouterr().out
    assert "| [linear_probe.onnx](linear_probe.onnx) | linear_probe | 66.12 % | 0.6432 | 1x48x48 gray" in text
    assert "| 12 | 1.5 h | FER2013 |" in text
    assert "| [bare.onnx](bare.onnx) | bare | - | - |" in text
    assert "`emotion-train train --arch linear_probe --data fer2013`" in text
    assert "Resumed with: `emotion-train train --resume --out runs/linear_probe`" in text
    assert "(../docs/linear_probe_val_confusion.png)" in text and "ab" * 32 in text
    assert main(["cards", str(models), "--write"]) == 0
    assert (models / "README.md").read_text().startswith("# Shipped models")


def test_a_foreign_file_is_named(tmp_path, caplog):
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    assert main(["cards", str(tmp_path)]) == 2
    assert "broken.onnx" in caplog.text
    assert main(["cards", str(tmp_path / "missing")]) == 2
