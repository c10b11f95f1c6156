"""The model card a training checkpoint exports with, before its ONNX file is measured.

What the run was (data, recipe, command, machine, how it started and ended) comes from
the checkpoint's typed fields; for a run stopped early, its totals and its end come from
the ``last.pt`` beside the ``best.pt`` being exported.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from app.model.card import ModelCard
from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint
from training.learning_curve import compact_curve
from training.recipes import Recipe
from training.teacher import TeacherProbabilities

FROM_SCRATCH = "trained from scratch: no pretrained (ImageNet) weights are downloaded"


def card_from_checkpoint(saved: Checkpoint) -> ModelCard:
    """The card of a checkpoint, before its exported file is measured (no metrics yet)."""
    info, settings, progress = saved.dataset, saved.settings, saved.progress
    recipe = settings.recipe
    last = last_beside(saved)  # a run stopped early: its totals and its end live there
    epochs, seconds = run_totals(saved, last)
    limit = settings.data.options.limit_per_class
    dataset = (f"{info.name} ({info.format}): trained on {info.train_split} "
               f"({info.train_images} images), selected on {info.val_split} "
               f"({info.val_images})" + (f", at most {limit} per class" if limit else ""))
    training = {
        "command": saved.command,
        "resumed": list(saved.resumed),
        "epochs": epochs,
        "best_epoch": progress.best_epoch,
        "seconds": round(float(seconds), 1),
        "parameters": saved.parameters,
        "pytorch_val_accuracy": progress.best_accuracy,
        "device": f"{saved.device} x{saved.world_size}, {saved.precision}",
        "torch_version": saved.torch_version,
        "seed": settings.seed,
        "ablate": list(settings.ablate),
        "recipe": {
            "optimiser": asdict(recipe.optimiser), "schedule": asdict(recipe.schedule),
            "batch_size": recipe.batch_size, "loss": recipe.loss,
            "label_smoothing": recipe.label_smoothing, "island_weight": recipe.island_weight,
            "auxiliary_from": recipe.auxiliary_from, "auxiliary_weight": recipe.auxiliary_weight,
            "auxiliary_feature_extractor": recipe.auxiliary_feature_extractor,
            "augment": asdict(recipe.augment),
            "name": recipe.name,
            "mixup_alpha": recipe.mixup_alpha,
            "cutmix_alpha": recipe.cutmix_alpha,
            "ema_decay": recipe.ema_decay,
            "distillation": distillation_of(recipe),
            "source": recipe.source,
        },
        "notes": [start_note(settings.init), *auxiliary_notes(recipe), *recipe.notes,
                  *run_ending_notes(saved, last)],
        "curve": compact_curve(run_history(saved, last)),
    }
    if settings.init:
        training["initialised_from"] = {key: value for key, value in settings.init.items()
                                        if key not in ("path", "labels")}
    return ModelCard(architecture=saved.model.arch, labels=saved.labels, preprocess=saved.spec,
                     dataset=dataset, training=training)


def run_totals(saved: Checkpoint, last: Checkpoint | None) -> tuple[int, float]:
    """Epochs and seconds of the whole run: stamped into ``best.pt`` by a finished run; for
    one stopped early, read from the ``last.pt`` beside it (the best epoch may be earlier
    than the last, and the card must not say the run ended at its best epoch)."""
    if saved.run_totals is not None:
        return saved.run_totals.epochs, saved.run_totals.seconds
    progress = last.progress if last is not None else saved.progress
    return progress.epoch, progress.seconds


def run_history(saved: Checkpoint, last: Checkpoint | None) -> list[dict]:
    """Every epoch of the run, past the best one: like ``run_totals``, from the totals a
    finished run stamped into ``best.pt``, else from the ``last.pt`` beside it."""
    if saved.run_totals is not None:
        return saved.run_totals.history
    return (last if last is not None else saved).progress.history


def last_beside(saved: Checkpoint) -> Checkpoint | None:
    """The ``last.pt`` next to a loaded ``best.pt`` of a run that did not finish, or None."""
    if saved.path is None or saved.run_totals is not None:
        return None
    last_path = Path(saved.path).with_name(checkpoints.LAST)
    if not last_path.is_file() or last_path == Path(saved.path):
        return None
    return checkpoints.load(last_path)


def start_note(init: dict | None) -> str:
    """Where the weights began: from scratch, or an exported model of this package."""
    if not init:
        return FROM_SCRATCH
    read_over = f" read over its views ({', '.join(init['views'])})" if init.get("views") else ""
    before = (f" after its {init['epochs']} epochs ({100 * init['val_accuracy']:.2f} % val{read_over})"
              if init.get("epochs") and init.get("val_accuracy") else "")
    return (f"continued from {init['file']}{before}, itself trained from scratch here: "
            "no pretrained (ImageNet) weights are downloaded")


def distillation_of(recipe: Recipe) -> dict | None:
    """The teachers a run distilled from (file names, weights' SHA-256, weights), its weight and
    temperature; None without a teacher."""
    if not recipe.teacher:
        return None
    described = {"weight": recipe.distill_weight, "temperature": recipe.distill_temperature}
    try:
        teacher = TeacherProbabilities.load(recipe.teacher)
    except ValueError:  # the soft-label file has moved: keep what the settings say
        return {**described, "soft_labels": recipe.teacher}
    return {**described, "teachers": [
        {"file": name, "weights_sha256": sha, "weight": weight}
        for name, sha, weight in zip(teacher.members, teacher.member_sha256, teacher.weights)]}


def auxiliary_notes(recipe: Recipe) -> list[str]:
    """How an auxiliary classifier shaped the run; the exported graph does not hold it."""
    if not recipe.auxiliary_weight:
        return []
    how = ("the rest of the model read it with the gradient stopped, as a feature extractor"
           if recipe.auxiliary_feature_extractor else "its loss joined the model's")
    return [f"{recipe.auxiliary_from} trained through an auxiliary linear classifier on its "
            f"pooled features (weight {recipe.auxiliary_weight:g}, training only, not exported); "
            f"{how}"]


def run_ending_notes(saved: Checkpoint, last: Checkpoint | None) -> list[str]:
    """How a run that never finished ended, read from the ``last.pt`` beside ``best.pt``.

    A finished run stamps its totals into ``best.pt``; one stopped early (Ctrl-C, a time
    budget) does not, so the card says where it stopped rather than implying the recipe
    ran to its end.
    """
    if saved.run_totals is not None or last is None or not last.stopped:
        return []
    progress = last.progress
    return [f"the run was stopped ({last.stopped}) in epoch {progress.epoch + 1} of "
            f"{last.settings.recipe.epochs} after {progress.seconds / 60:.1f} min; "
            f"the learning rate was then {last.optimisation.learning_rate:.1e}"]
