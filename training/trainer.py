"""The training loop: epochs of augmented batches, validation, checkpoints, early stopping.

Determinism is what makes ``--resume`` exact: sample order and augmentation are seeded
by (seed, epoch, index) (``training.data.torch_dataset``), the torch generator that
drives dropout is reseeded at each epoch start and saved mid-epoch, mixup and CutMix
draw from a generator seeded by (seed, epoch, batch), and every other piece of state
(weights, their moving average, optimiser, scheduler, loss scaler, island centres,
metric sums of a half-done epoch) is in the checkpoint. A resumed run therefore reports the
same metrics as an uninterrupted one. A stop request (Ctrl-C, SIGTERM, the time
budget) is honoured between batches, agreed across ranks, saved, and reported.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint, ModelArguments, Optimisation, Progress, RunTotals
from training.cpu_plan import ThreadGovernor
from training.distributed import Context
from training.ema import WeightAverage
from training.metrics import ClassificationReport, confusion_matrix
from training.mixing import mix_batch
from training.models.layers.dynamic_conv import anneal_temperature
from training.optimisation import make_optimiser, make_scheduler, step_scheduler
from training.run_setup import RunParts
from training.run_status import RunStatus
from training.settings import TrainSettings

log = logging.getLogger(__name__)

PROGRESS_LINE_EVERY_S = 60.0
"""Off a terminal (no progress bar), a line about the epoch under way this often, so a log
or a pipe shows a long epoch moving (a DCRNet epoch takes half an hour on two cores)."""

FINISHED, INTERRUPTED, PAUSED = "finished", "interrupted", "paused"


class Trainer:
    """Runs ``fit`` on the parts of a run, on one rank of possibly several.

    ``command`` is recorded in the checkpoints (and so in the model card); ``resume_from``
    is a ``last.pt`` to continue; ``started`` is ``time.monotonic()`` when this session
    began, so the recorded wall time includes data loading.
    """

    def __init__(self, settings: TrainSettings, context: Context, parts: RunParts, command: str,
                 resume_from: Checkpoint | None = None, started: float | None = None,
                 governor: ThreadGovernor | None = None) -> None:
        self.settings, self.context, self.parts, self.governor = settings, context, parts, governor
        self.out = Path(settings.run.out)
        self.command, self.resumed = command, []
        recipe = settings.recipe
        self.objective = parts.objective
        self.wrapped = self.objective
        if context.distributed:
            device_ids = [context.device.index] if context.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(self.objective, device_ids=device_ids)
        self.optimiser = make_optimiser(recipe.optimiser, self.objective)
        self.scheduler = make_scheduler(recipe.schedule, self.optimiser, recipe.epochs,
                                        parts.train_batches.batches_per_epoch)
        self.average = WeightAverage(self.objective.model, recipe.ema_decay) if recipe.ema_decay else None
        self.scaler = torch.amp.GradScaler(context.device.type, enabled=parts.precision.scaled)
        self.progress = Progress()
        self.restored_rng: dict | None = None
        if resume_from is not None:
            self._restore(resume_from)
        self.session_started = time.monotonic() if started is None else started
        self.last_save = time.monotonic()

    # -- state ---------------------------------------------------------------------------
    def _restore(self, saved: Checkpoint) -> None:
        self.objective.model.load_state_dict(saved.state_dict)
        self.objective.loss.load_state_dict(saved.loss_state)
        optimisation = saved.optimisation  # a last.pt always holds it
        self.optimiser.load_state_dict(optimisation.optimiser)
        self.scheduler.load_state_dict(optimisation.scheduler)
        self.scaler.load_state_dict(optimisation.scaler)
        if self.average is not None:
            self.average.load_state_dict(optimisation.ema)
        self.progress = replace(saved.progress, history=list(saved.progress.history))
        if not self.context.is_main:  # rank 0 alone carries the half-done epoch's sums
            self.progress.loss_sum, self.progress.samples = 0.0, 0
        if self.progress.batches_done:
            self.restored_rng = saved.rng
        self.command, self.resumed = saved.command, list(saved.resumed)

    def checkpoint(self, stopped: str | None = None) -> Checkpoint:
        """The run's state; call on every rank (the half-done epoch's sums are reduced)."""
        parts, model, settings = self.parts, self.objective.model, self.settings
        progress = replace(self.progress, seconds=self.seconds())
        reduced = self.context.all_reduce(torch.tensor([progress.loss_sum, float(progress.samples)],
                                                       dtype=torch.float64))
        progress.loss_sum, progress.samples = float(reduced[0]), int(reduced[1])
        rng = {"torch": torch.get_rng_state()}
        if self.context.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.context.device)
        return Checkpoint(
            model=ModelArguments(settings.arch, len(parts.labels), parts.spec.channels,
                                 settings.input_size, settings.ablate),
            spec=parts.spec, labels=parts.labels, dataset=parts.dataset_info, settings=settings,
            command=self.command, resumed=tuple(self.resumed),
            parameters=sum(parameter.numel() for parameter in model.parameters()),
            precision=parts.precision.name, device=str(self.context.device),
            world_size=self.context.world_size, torch_version=str(torch.__version__),
            state_dict={name: tensor.contiguous() for name, tensor in model.state_dict().items()},
            loss_state=self.objective.loss.state_dict(), rng=rng, progress=progress, stopped=stopped,
            optimisation=Optimisation(self.optimiser.state_dict(), self.scheduler.state_dict(),
                                      self.scaler.state_dict(),
                                      self.average.state_dict() if self.average is not None else None))

    def save(self, stopped: str | None = None, best: bool = False) -> None:
        """Write ``last.pt`` (and ``best.pt``) from rank 0; every rank must call it."""
        state = self.checkpoint(stopped)
        if self.context.is_main:
            checkpoints.save(state, self.out / checkpoints.LAST)
            if best:
                checkpoints.save(state.for_best(), self.out / checkpoints.BEST)
            self.status(stopped).write(self.out)
        self.last_save = time.monotonic()

    def status(self, stopped: str | None) -> RunStatus:
        progress = self.progress
        return RunStatus(self.settings.arch, progress.epoch, self.settings.recipe.epochs,
                         progress.batches_done, self.parts.train_batches.batches_per_epoch,
                         progress.best_accuracy, progress.best_epoch,
                         tuple(entry["seconds"] for entry in progress.history), stopped,
                         time.time(), os.getpid())

    def seconds(self) -> float:
        return self.progress.seconds + time.monotonic() - self.session_started

    # -- loop ----------------------------------------------------------------------------
    def fit(self, stop) -> str:
        """Train until done, early stopping, or a stop request; returns how it ended."""
        recipe, progress = self.settings.recipe, self.progress
        while progress.epoch < recipe.epochs:
            if progress.epoch - progress.best_epoch >= recipe.early_stopping_patience:
                log.info("early stopping: no better val accuracy for %d epochs",
                         recipe.early_stopping_patience)
                break
            if self.flags(stop)[0]:  # Ctrl-C during validation (the time budget waits a batch)
                self.save(stopped=INTERRUPTED)
                return INTERRUPTED
            epoch_started = time.monotonic()
            outcome = self.train_epoch(stop)
            if outcome is not None:
                self.save(stopped=outcome)
                return outcome
            report, val_loss = self.validate()
            self.end_epoch(report, val_loss, time.monotonic() - epoch_started)
        self.save(stopped=FINISHED)
        self.finish_best()
        return FINISHED

    def train_epoch(self, stop) -> str | None:
        parts, progress, device = self.parts, self.progress, self.context.device
        epoch = progress.epoch
        parts.train_batches.set_epoch(epoch, skip=progress.batches_done)
        if self.settings.init is None:  # a started-from model keeps its trained temperature
            anneal_temperature(self.objective.model, epoch)  # no-op without DynamicConv layers
        seed = (self.settings.seed * 1_000_003 + epoch) * 1_000 + self.context.rank
        torch.manual_seed(seed)
        iterator = iter(parts.train_loader)
        if self.restored_rng is not None:  # mid-epoch resume: the dropout stream goes on
            torch.set_rng_state(self.restored_rng["torch"])
            if "cuda" in self.restored_rng and device.type == "cuda":
                torch.cuda.set_rng_state(self.restored_rng["cuda"], device)
            self.restored_rng = None
        self.objective.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        bar = tqdm(total=parts.train_batches.batches_per_epoch, initial=progress.batches_done,
                   desc=f"epoch {epoch + 1}/{self.settings.recipe.epochs}", leave=False,
                   disable=not self.show_progress, dynamic_ncols=True)
        started = last_line = time.monotonic()  # without a bar (off a terminal): a line now and then
        first_batch = progress.batches_done
        try:
            for images, targets, *teacher in iterator:
                images = images.to(device, non_blocking=True, memory_format=parts.memory_format)
                targets = targets.to(device, non_blocking=True)
                teacher = teacher[0].to(device, non_blocking=True) if teacher else None
                images, targets, teacher = self.mix(images, targets, teacher, epoch, progress.batches_done)
                with parts.precision.autocast():
                    loss, _ = self.wrapped(images, targets, teacher)
                self.optimiser.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimiser)
                self.scaler.update()
                if self.settings.recipe.schedule.per_batch:
                    self.scheduler.step()
                if self.average is not None:
                    self.average.update(self.objective.model)
                loss_sum += loss.detach().double() * len(images)
                progress.samples += len(images)
                progress.batches_done += 1
                if self.governor is not None:
                    self.governor.update()
                bar.update()
                if bar.n % 20 == 0 and not bar.disable:
                    bar.set_postfix(loss=f"{(progress.loss_sum + loss_sum.item()) / progress.samples:.4f}")
                elif bar.disable and time.monotonic() - last_line > PROGRESS_LINE_EVERY_S:
                    self.log_within_epoch(first_batch, loss_sum, started, "")
                    last_line = time.monotonic()
                interrupted, out_of_time, save_due = self.flags(stop)
                if interrupted or out_of_time or save_due:
                    progress.loss_sum += loss_sum.item()
                    loss_sum.zero_()
                    if interrupted or out_of_time:
                        return INTERRUPTED if interrupted else PAUSED
                    self.save()
                    if bar.disable:
                        self.log_within_epoch(first_batch, loss_sum, started,
                                              f"; saved {checkpoints.LAST}")
                        last_line = time.monotonic()
        finally:
            bar.close()
        progress.loss_sum += loss_sum.item()
        return None

    def log_within_epoch(self, first_batch: int, loss_sum: torch.Tensor, started: float,
                         saved: str) -> None:
        """One progress line, in place of the bar a terminal would show: where the epoch
        stands, its loss so far, and about how long it has left at this session's pace."""
        if not self.context.is_main:
            return
        progress = self.progress
        done, total = progress.batches_done, self.parts.train_batches.batches_per_epoch
        elapsed, batches_now = time.monotonic() - started, done - first_batch
        left = elapsed / batches_now * (total - done) if batches_now else float("nan")
        loss = (progress.loss_sum + loss_sum.item()) / max(progress.samples, 1)
        log.info("epoch %d/%d  batch %d/%d  train loss %.4f  %.1f min in, about %.1f min left%s",
                 progress.epoch + 1, self.settings.recipe.epochs, done, total, loss, elapsed / 60,
                 left / 60, saved)

    def mix(self, images, targets, teacher, epoch: int, batch: int):
        """Mixup or CutMix as the recipe asks, drawn from a generator seeded by (seed, epoch,
        batch, rank), so a resumed run mixes as an uninterrupted one would."""
        recipe = self.settings.recipe
        if not (recipe.mixup_alpha or recipe.cutmix_alpha):
            return images, targets, teacher
        rng = np.random.default_rng((self.settings.seed, epoch, batch, self.context.rank))
        return mix_batch(images, targets, teacher, len(self.parts.labels), recipe.mixup_alpha,
                         recipe.cutmix_alpha, rng)

    def flags(self, stop) -> tuple[bool, bool, bool]:
        """(stop requested, time budget spent, periodic save due), agreed by every rank."""
        run, now = self.settings.run, time.monotonic()
        flags = torch.tensor([
            float(stop.requested),
            float(run.max_minutes is not None and now - self.session_started > run.max_minutes * 60),
            float(now - self.last_save > run.save_every_minutes * 60),
        ])
        if self.context.distributed:
            self.context.all_reduce(flags, dist.ReduceOp.MAX)
        return bool(flags[0]), bool(flags[1]), bool(flags[2])

    @torch.no_grad()
    def validate(self) -> tuple[ClassificationReport, float]:
        parts, device = self.parts, self.context.device
        model = (self.average.model if self.average is not None else self.objective.model).eval()
        if self.context.distributed:  # evaluate every shard with rank 0's batch-norm statistics
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)
        confusion = torch.zeros(len(parts.labels), len(parts.labels), dtype=torch.float64)
        loss_sum = torch.zeros(1, dtype=torch.float64)
        for images, targets in parts.val_loader:
            images = images.to(device, non_blocking=True, memory_format=parts.memory_format)
            with parts.precision.autocast():
                logits = model(images).float().cpu()
            loss_sum += F.cross_entropy(logits, targets, reduction="sum").double()
            confusion += torch.from_numpy(confusion_matrix(
                targets.numpy(), logits.argmax(dim=1).numpy(), len(parts.labels)))
        self.context.all_reduce(confusion)
        self.context.all_reduce(loss_sum)
        report = ClassificationReport(parts.labels, confusion.numpy().astype(np.int64))
        return report, float(loss_sum.item() / max(report.total, 1))

    def end_epoch(self, report: ClassificationReport, val_loss: float, seconds: float) -> None:
        progress, recipe = self.progress, self.settings.recipe
        progress.epoch += 1
        reduced = self.context.all_reduce(torch.tensor([progress.loss_sum, float(progress.samples)],
                                                       dtype=torch.float64))
        entry = {
            "epoch": progress.epoch,
            "train_loss": float(reduced[0] / max(reduced[1], 1)),
            "val_loss": val_loss,
            "val_accuracy": report.accuracy,
            "val_macro_f1": report.macro_f1,
            "lr": self.optimiser.param_groups[0]["lr"],
            "seconds": seconds,
        }
        progress.history.append(entry)
        progress.batches_done, progress.loss_sum, progress.samples = 0, 0.0, 0
        improved = report.accuracy > progress.best_accuracy
        if improved:
            progress.best_epoch, progress.best_accuracy = progress.epoch, report.accuracy
            progress.best_macro_f1 = report.macro_f1
        step_scheduler(self.scheduler, recipe.schedule, entry)
        self.save(best=improved)
        if self.context.is_main:
            log.info("epoch %d/%d  train loss %.4f  val loss %.4f  val acc %.2f%%  val macro-F1 %.4f  "
                     "lr %.2e  %.1f s%s; saved %s", progress.epoch, recipe.epochs, entry["train_loss"],
                     val_loss, 100 * report.accuracy, report.macro_f1, entry["lr"], seconds,
                     "  (best)" if improved else f"  (best {100 * progress.best_accuracy:.2f}% "
                     f"at epoch {progress.best_epoch})",
                     f"{checkpoints.LAST} and {checkpoints.BEST}" if improved else checkpoints.LAST)
            (self.out / "history.json").write_text(json.dumps(progress.history, indent=1))

    def finish_best(self) -> None:
        """Give ``best.pt`` the run's final totals (epochs run, seconds, how it ended)."""
        best_path = self.out / checkpoints.BEST
        if self.context.is_main and best_path.is_file():
            totals = RunTotals(self.progress.epoch, self.seconds(), self.progress.history, FINISHED)
            checkpoints.save(replace(checkpoints.load(best_path), run_totals=totals), best_path)

    @property
    def show_progress(self) -> bool:
        wanted = self.settings.run.progress
        return self.context.is_main and (wanted if wanted is not None else sys.stderr.isatty())
