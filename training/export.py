"""PyTorch model -> self-describing ONNX file (the training-to-app contract).

The graph has one input ``input`` [N, C, H, W] with a dynamic batch axis and one
output ``logits`` [N, K]; the model card (``app.model.card``) goes into the file's
metadata; the ONNX checker must pass; ONNX Runtime must agree with PyTorch. A card is
rewritten later (``write_card``) without touching the weights. A file is measured through
the app's code (``measure_file``) and moved into place with its weights' SHA-256 on its
card (``install``), for an export as for an ensemble.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

from app.model.card import INPUT_NAME, OUTPUT_NAME, ModelCard, read_card
from app.system.output_files import Staged
from training.data import CropSet
from training.evaluate import classifier_for, evaluate
from training.fp16 import with_fp16_weights

log = logging.getLogger(__name__)

OPSET = 18

FP16_WEIGHTS = "float16 (computed in float32)"


def export_onnx(model: torch.nn.Module, card: ModelCard, path: str | Path) -> Path:
    """Export ``model`` in eval mode with ``card`` embedded; returns the written path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().float()
    height, width = card.preprocess.input_size
    example = torch.randn(2, card.preprocess.channels, height, width)
    with torch.no_grad(), _quiet_exporter():
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    card.embed(proto)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, str(path))
    read_card(path)  # the app's own reader must accept what was written
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


@contextlib.contextmanager
def _quiet_exporter():
    """Keep the exporter's chatter off the console: its ``[torch.onnx] ...`` prints (logged at
    DEBUG), warnings about the absent torchvision's operators, pytree deprecation warnings,
    and the onnxscript optimiser's INFO messages."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    printed = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if printed.getvalue().strip():
            log.debug("torch.onnx.export said:\n%s", printed.getvalue().rstrip())


def write_card(path: str | Path, card: ModelCard) -> Path:
    """Replace the card inside an ONNX file atomically, leaving its weights as they were.

    The new file is written beside the old one, checked (the app's reader accepts it, the
    weights' SHA-256 is unchanged) and renamed over it: a crash or a failed check leaves
    the old file whole, and a reader never sees half a file.
    """
    path = Path(path)
    proto = onnx.load(str(path))
    before = _weights_digest(proto)
    card.embed(proto)
    with Staged(path) as stage:  # a hidden folder: no model list shows the file meanwhile
        onnx.save_model(proto, str(stage.path))
        shutil.copymode(path, stage.path)
        read_card(stage.path)
        if weights_sha256(stage.path) != before:
            raise ValueError(f"{path}: rewriting the card changed the weights; the file is left as it was")
        stage.commit()
    return path


def weights_sha256(path: str | Path) -> str:
    """SHA-256 of the graph's weights, stable across metadata edits (the card can hold it)."""
    return _weights_digest(onnx.load(str(path)))


def _weights_digest(model: onnx.ModelProto) -> str:
    digest = hashlib.sha256()
    for initializer in sorted(model.graph.initializer, key=lambda tensor: tensor.name):
        digest.update(initializer.name.encode())
        digest.update(onnx.numpy_helper.to_array(initializer).tobytes())
    return digest.hexdigest()


def parity_error(model: torch.nn.Module, path: str | Path, batch_sizes=(1, 8), seed: int = 0) -> float:
    """Largest |ONNX Runtime - PyTorch| logit difference over random batches."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape[1:]
    generator = torch.Generator().manual_seed(seed)
    model = model.eval().float()
    worst = 0.0
    for batch_size in batch_sizes:
        images = torch.randn(batch_size, *shape, generator=generator)
        with torch.no_grad():
            expected = model(images).numpy()
        actual = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]
        worst = max(worst, float(np.abs(actual - expected).max()))
    return worst


def measure_file(path: Path, crops: CropSet, provider: str, fp16: bool) -> tuple[dict, int]:
    """Validation accuracy and macro-F1 of the ONNX file at ``path`` and the images scored;
    with ``fp16`` its weights are stored in float16 in place and measured again, and the
    metrics also say what that cost (``fp32_val_accuracy``, ``fp16_accuracy_change``)."""
    evaluation = evaluate(classifier_for(path, provider), crops)
    metrics = {"val_accuracy": evaluation.report.accuracy, "val_macro_f1": evaluation.report.macro_f1}
    if fp16:
        onnx.save_model(with_fp16_weights(onnx.load(str(path))), str(path))
        half = evaluate(classifier_for(path, provider), crops)
        metrics = {"val_accuracy": half.report.accuracy, "val_macro_f1": half.report.macro_f1,
                   "fp32_val_accuracy": evaluation.report.accuracy,
                   "fp16_accuracy_change": half.report.accuracy - evaluation.report.accuracy}
    return metrics, evaluation.report.total


def install(stage: Staged, card: ModelCard, fp16: bool) -> ModelCard:
    """Finish a measured file: the card gains the weights' SHA-256 (and says when they are
    float16), is written into the staged file, and that replaces its destination."""
    training = dict(card.training, **({"weights": FP16_WEIGHTS} if fp16 else {}))
    training["weights_sha256"] = weights_sha256(stage.path)
    card = replace(card, training=training)
    write_card(stage.path, card)
    stage.commit()
    return card
