"""``emotion-train export``: a training checkpoint -> an ONNX model the app can ship.

    emotion-train export runs/mini_xception/best.pt --out models_onnx/mini_xception.onnx

Steps: rebuild the model from the checkpoint; export it with its model card
(``training.export.export_onnx``); check ONNX Runtime agrees with PyTorch; measure the
validation accuracy and macro-F1 of the exported file through the app's own code
(``training.evaluate``); with ``--mirror-average``, the graph averages each face's
logits with its mirror image's (``training.export.MirrorAveraged``) and the card says
so; with ``--fp16``, store the weights in float16 and measure
again; record the weights' SHA-256; write the final card. The file is written beside
the target and moved into place only when every check passed, so a failed export
never replaces a good model.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from dataclasses import replace
from pathlib import Path

import onnx

from app.model_card import ModelCard, ModelCardError
from app.providers import REQUESTS
from training import checkpoint as checkpoints
from training.data import FORMAT_CHOICES, CropSet, DataOptions, DatasetLayoutError
from training.evaluate import classifier_for, evaluate, load_for
from training.export import (
    MIRROR_AVERAGED,
    MirrorAveraged,
    export_onnx,
    parity_error,
    weights_sha256,
    write_card,
)
from training.fp16 import with_fp16_weights
from training.teacher import TeacherProbabilities

log = logging.getLogger(__name__)

FROM_SCRATCH = "trained from scratch: no pretrained (ImageNet) weights are downloaded"
FP16_WEIGHTS = "float16 (computed in float32)"


def card_from_checkpoint(saved: dict) -> ModelCard:
    """The card of a checkpoint, before its exported file is measured (no metrics yet)."""
    spec, info = checkpoints.spec_of(saved), saved["dataset"]
    settings, progress = saved["settings"], saved["progress"]
    last = last_beside(saved)  # a run stopped early: its totals and its end live there
    totals = run_totals(saved, last)
    limit = settings["data"]["options"]["limit_per_class"]
    recipe = settings["recipe"]
    dataset = (f"{info['name']} ({info['format']}): trained on {info['train_split']} "
               f"({info['train_images']} images), selected on {info['val_split']} "
               f"({info['val_images']})" + (f", at most {limit} per class" if limit else ""))
    training = {
        "command": saved["command"],
        "resumed": saved["resumed"],
        "epochs": totals["epochs"],
        "best_epoch": progress["best_epoch"],
        "seconds": round(float(totals["seconds"]), 1),
        "parameters": saved["parameters"],
        "pytorch_val_accuracy": progress["best_accuracy"],
        "device": f"{saved['device']} x{saved['world_size']}, {saved['precision']}",
        "torch_version": saved["torch_version"],
        "seed": settings["seed"],
        "ablate": list(settings.get("ablate", [])),  # absent from checkpoints before --ablate
        "recipe": {
            "optimiser": recipe["optimiser"], "schedule": recipe["schedule"],
            "batch_size": recipe["batch_size"], "loss": recipe["loss"],
            "label_smoothing": recipe["label_smoothing"], "island_weight": recipe["island_weight"],
            "auxiliary_from": recipe.get("auxiliary_from"),  # absent from older checkpoints
            "auxiliary_weight": recipe.get("auxiliary_weight", 0.0),
            "auxiliary_feature_extractor": recipe.get("auxiliary_feature_extractor", False),
            "augment": recipe["augment"],
            "name": recipe.get("name", "paper"),  # absent from checkpoints before the fast recipe
            "mixup_alpha": recipe.get("mixup_alpha", 0.0),
            "cutmix_alpha": recipe.get("cutmix_alpha", 0.0),
            "ema_decay": recipe.get("ema_decay", 0.0),
            "distillation": distillation_of(recipe),
            "source": recipe["source"],
        },
        "notes": [start_note(settings.get("init")), *auxiliary_notes(recipe), *recipe["notes"],
                  *run_ending_notes(saved, last)],
    }
    if settings.get("init"):  # absent from checkpoints before --init
        training["initialised_from"] = {key: value for key, value in settings["init"].items()
                                        if key not in ("path", "labels")}
    return ModelCard(
        architecture=saved["model"]["arch"], labels=tuple(saved["labels"]),
        input_size=spec.input_size, channels=spec.channels, color_space=spec.color_space,
        mean=spec.mean, std=spec.std, gamma=spec.gamma,
        alignment_template=spec.alignment_template, dataset=dataset, training=training)


def run_totals(saved: dict, last: dict | None) -> dict:
    """Epochs and seconds of the whole run: stamped into ``best.pt`` by a finished run; for
    one stopped early, read from the ``last.pt`` beside it (the best epoch may be earlier
    than the last, and the card must not say the run ended at its best epoch)."""
    if "run_totals" in saved:
        return saved["run_totals"]
    progress = last["progress"] if last is not None else saved["progress"]
    return {"epochs": progress["epoch"], "seconds": progress["seconds"]}


def last_beside(saved: dict) -> dict | None:
    """The ``last.pt`` next to a loaded ``best.pt`` of a run that did not finish, or None."""
    if "path" not in saved or "run_totals" in saved:
        return None
    last_path = Path(saved["path"]).with_name(checkpoints.LAST)
    if not last_path.is_file() or last_path == Path(saved["path"]):
        return None
    return checkpoints.load(last_path)


def start_note(init: dict | None) -> str:
    """Where the weights began: from scratch, or an exported model of this package."""
    if not init:
        return FROM_SCRATCH
    before = (f" after its {init['epochs']} epochs ({100 * init['val_accuracy']:.2f} % val)"
              if init.get("epochs") and init.get("val_accuracy") else "")
    return (f"continued from {init['file']}{before}, itself trained from scratch here: "
            "no pretrained (ImageNet) weights are downloaded")


def distillation_of(recipe: dict) -> dict | None:
    """The teachers a run distilled from (file names, weights' SHA-256, weights), its weight and
    temperature; None without a teacher."""
    if not recipe.get("teacher"):
        return None
    described = {"weight": recipe["distill_weight"], "temperature": recipe["distill_temperature"]}
    try:
        teacher = TeacherProbabilities.load(recipe["teacher"])
    except ValueError:  # the soft-label file has moved: keep what the settings say
        return {**described, "soft_labels": recipe["teacher"]}
    return {**described, "teachers": [
        {"file": name, "weights_sha256": sha, "weight": weight}
        for name, sha, weight in zip(teacher.members, teacher.member_sha256, teacher.weights)]}


def auxiliary_notes(recipe: dict) -> list[str]:
    """How an auxiliary classifier shaped the run; the exported graph does not hold it."""
    if not recipe.get("auxiliary_weight"):
        return []
    how = ("the rest of the model read it with the gradient stopped, as a feature extractor"
           if recipe.get("auxiliary_feature_extractor") else "its loss joined the model's")
    return [f"{recipe['auxiliary_from']} trained through an auxiliary linear classifier on its "
            f"pooled features (weight {recipe['auxiliary_weight']:g}, training only, not exported); "
            f"{how}"]


def run_ending_notes(saved: dict, last: dict | None) -> list[str]:
    """How a run that never finished ended, read from the ``last.pt`` beside ``best.pt``.

    A finished run stamps its totals into ``best.pt``; one stopped early (Ctrl-C, a time
    budget) does not, so the card says where it stopped rather than implying the recipe
    ran to its end.
    """
    if "run_totals" in saved or last is None or not last.get("stopped"):
        return []
    progress = last["progress"]
    return [f"the run was stopped ({last['stopped']}) in epoch {progress['epoch'] + 1} of "
            f"{last['settings']['recipe']['epochs']} after {progress['seconds'] / 60:.1f} min; "
            f"the learning rate was then {last['optimiser']['param_groups'][0]['lr']:.1e}"]


def load_validation(path: Path, args: argparse.Namespace, saved: dict) -> CropSet:
    """The run's validation split (or the one given), prepared with the exported card's spec."""
    info = saved["dataset"]
    return load_for(classifier_for(path, args.provider), args.data or Path(info["root"]),
                    args.split or info["val_split"], args.dataset or info["format"],
                    DataOptions(limit_per_class=args.limit_per_class))


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


def install(partial: Path, out: Path, card: ModelCard, fp16: bool) -> ModelCard:
    """Finish a measured file: the card gains the weights' SHA-256 (and says when they are
    float16), is written into ``partial``, and ``partial`` replaces ``out``."""
    training = dict(card.training, **({"weights": FP16_WEIGHTS} if fp16 else {}))
    training["weights_sha256"] = weights_sha256(partial)
    card = replace(card, training=training)
    write_card(partial, card)
    os.replace(partial, out)
    return card


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="best.pt / last.pt, or a run folder (best.pt)")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--data", type=Path, help="validation data (default: the training run's)")
    parser.add_argument("--dataset", choices=FORMAT_CHOICES, help="format (default: the run's)")
    parser.add_argument("--split", help="split to measure (default: the run's validation split)")
    parser.add_argument("--limit-per-class", type=int, help="measure on at most N per class")
    parser.add_argument("--mirror-average", action="store_true",
                        help="average each face's logits with its mirror image's, inside the graph "
                             "(test-time flip: usually more accurate, twice the compute per face)")
    parser.add_argument("--fp16", action="store_true",
                        help="store weights in float16 (inputs and outputs stay float32)")
    parser.add_argument("--parity-tolerance", type=float, default=1e-3,
                        help="largest |ONNX - PyTorch| logit difference accepted")
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS))


def run(args: argparse.Namespace) -> int:
    partial = args.out.with_name(args.out.stem + ".partial.onnx")
    try:
        saved = checkpoints.load(args.checkpoint)
        model = checkpoints.model_of(saved)
        card = card_from_checkpoint(saved)
        if args.mirror_average:
            model = MirrorAveraged(model)
            card = replace(card, training=dict(card.training, test_time=MIRROR_AVERAGED))
        export_onnx(model, card, partial)
        parity = parity_error(model, partial)
        if parity > args.parity_tolerance:
            raise ValueError(f"ONNX Runtime and PyTorch disagree by {parity:.2e} "
                             f"(> {args.parity_tolerance:.0e}); the export is not faithful")
        crops = load_validation(partial, args, saved)
        metrics, evaluated = measure_file(partial, crops, args.provider, args.fp16)
        training = dict(card.training, parity_max_abs_logit_error=parity,
                        evaluated_on=f"{evaluated} images")
        training["export_command"] = "emotion-train " + shlex.join(args.argv)
        card = install(partial, args.out, replace(card, metrics=metrics, training=training), args.fp16)
    except (checkpoints.CheckpointError, ModelCardError, DatasetLayoutError, ValueError) as error:
        log.error("%s", error)
        partial.unlink(missing_ok=True)
        return 2
    _print_summary(args.out, card, parity)
    return 0


def _print_summary(path: Path, card: ModelCard, parity: float) -> None:
    metrics, training = card.metrics, card.training
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"  {card.architecture}: {training['parameters'] / 1e6:.3f} M parameters, input "
          f"{card.channels}x{card.input_size[0]}x{card.input_size[1]} {card.color_space}, "
          f"gamma {'on' if card.gamma else 'off'}, labels {', '.join(card.labels)}")
    print(f"  parity |ONNX - PyTorch| = {parity:.2e}")
    print(f"  val accuracy {metrics['val_accuracy']:.2%}, macro-F1 {metrics['val_macro_f1']:.4f} "
          f"(measured on the ONNX file through the app's code; PyTorch said "
          f"{training['pytorch_val_accuracy']:.2%} on single views in training)")
    if "test_time" in training:
        print(f"  test time: {training['test_time']}")
    if "fp16_accuracy_change" in metrics:
        print(f"  fp16 weights: accuracy {metrics['fp32_val_accuracy']:.2%} -> "
              f"{metrics['val_accuracy']:.2%} ({100 * metrics['fp16_accuracy_change']:+.2f} points)")
    print(f"  trained {training['epochs']} epochs in {training['seconds'] / 60:.1f} min: "
          f"{training['command']}")
    print(f"  weights SHA-256 {training['weights_sha256']}")
