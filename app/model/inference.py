"""An emotion model as the app runs it: an ONNX Runtime session plus its model card."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.face.alignment import ANCHOR_NAMES
from app.face.landmarks import DEFAULT_MAX_FACES
from app.face.preprocess import crop_face, crops_to_batch
from app.model.card import (
    INPUT_NAME,
    MEMBER_OUTPUT_NAME,
    OUTPUT_NAME,
    ModelCard,
    ModelCardError,
    card_of_session,
    open_session,
    read_card,
)
from app.model.providers import probe
from app.model.tensorrt_options import TENSORRT, provider_name, with_batch_profile
from app.model.views import SETTINGS, expand, pool

log = logging.getLogger(__name__)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    """One batch's output: the model's probabilities and, for an ensemble, its members'."""

    probabilities: np.ndarray
    """(N, K) softmax of ``logits``; a face's row is all NaN when the model's outputs for
    it were not finite (unreadable, see ``EmotionClassifier.predict``)."""
    members: np.ndarray | None = None
    """(N, M, K) each member's probabilities (``member_names`` order), NaN rows alike;
    None for one model."""


class EmotionClassifier:
    """Loads an ONNX emotion model, checks its card, and classifies batches of face tensors.

    ``providers`` defaults to the probe's choice (``app.model.providers.probe``): TensorRT or
    CUDA when they really run here, else the CPU; pass ``ProviderReport.session_providers``
    of another request, or an explicit list. ``max_batch``: the most faces one call
    carries; TensorRT builds its engine for batches 1 to ``max_batch`` once, instead of
    again each time more faces appear. Raises ``app.model.card.ModelCardError`` for a
    missing, corrupt or foreign file.
    """

    def __init__(self, path: str | Path, providers: Sequence | None = None,
                 max_batch: int = DEFAULT_MAX_FACES) -> None:
        if providers is None:
            providers = probe().session_providers
        self.path = Path(path)
        self.max_batch = max_batch
        providers = list(providers)
        if TENSORRT in map(provider_name, providers):  # its profile needs the input shape first
            card = read_card(self.path)
            providers = with_batch_profile(providers, INPUT_NAME,
                                           (card.preprocess.channels, *card.preprocess.input_size), max_batch)
        self.session = open_session(self.path, providers)
        self.card: ModelCard = card_of_session(self.session, str(self.path))
        self.spec = self.card.preprocess
        outputs = {output.name for output in self.session.get_outputs()}
        self.member_names: tuple[str, ...] = (
            self.card.member_names if MEMBER_OUTPUT_NAME in outputs else ())
        """An ensemble's members (the card's names, in output order); () for one model."""
        self._warned_non_finite = False

    @property
    def name(self) -> str:
        return self.card.architecture

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    @property
    def provider(self) -> str:
        """The execution provider ONNX Runtime actually placed this session on."""
        return self.session.get_providers()[0]

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(N, C, H, W) float32 -> (N, K) logits; an empty batch gives (0, K)."""
        if len(batch) == 0:
            return np.zeros((0, self.card.num_classes), np.float32)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(batch, np.float32)})[0]

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return softmax(self.logits(batch))

    def predict(self, batch: np.ndarray, views: str = "none") -> Prediction:
        """Probabilities and, for an ensemble, each member's, from one session run over
        every face's ``views`` (a setting of ``app.model.views.SETTINGS``, read as the
        card's ``ViewPlan`` says).

        A face whose outputs are not all finite (NaN or infinity: a damaged or badly
        exported model, an overflow) gets an all-NaN row, so that it reads as unreadable
        everywhere rather than as "nan%"; the first such face is logged, once per model.
        """
        members = len(self.member_names)
        if views not in SETTINGS:
            raise ValueError(f"unknown views setting {views!r}; valid: {', '.join(SETTINGS)}")
        if len(batch) == 0:
            return Prediction(np.zeros((0, self.card.num_classes), np.float32),
                              np.zeros((0, members, self.card.num_classes), np.float32) if members else None)
        seen, mirror = self.card.views.views(views)
        inputs = {INPUT_NAME: expand(np.ascontiguousarray(batch, np.float32), seen, mirror)}
        outputs = self.session.run([OUTPUT_NAME, MEMBER_OUTPUT_NAME] if members else [OUTPUT_NAME], inputs)
        probabilities, per_member = pool(outputs[0], len(seen), mirror, outputs[1] if members else None)
        return self._checked(probabilities, per_member)

    def _checked(self, probabilities: np.ndarray, members: np.ndarray | None) -> Prediction:
        """``probabilities`` and ``members`` with non-finite rows made all NaN (see ``predict``)."""
        unreadable = ~np.isfinite(probabilities).all(axis=1)
        affected = unreadable
        if members is not None:
            bad_members = ~np.isfinite(members).all(axis=2)
            members = np.where(bad_members[..., None], np.nan, members)
            affected = unreadable | bad_members.any(axis=1)
        if not affected.any():
            return Prediction(probabilities, members)
        if not self._warned_non_finite:
            self._warned_non_finite = True
            log.warning("model %s (%s) gave outputs that are not numbers (NaN or infinity) for "
                        "%d of %d faces; those faces are shown as unreadable. The model file may "
                        "be damaged or badly exported (reported once per model).",
                        self.name, self.path, int(affected.sum()), len(probabilities))
        return Prediction(np.where(unreadable[:, None], np.nan, probabilities), members)

    def test_run(self, faces: int = 2) -> None:
        """Run ``faces`` copies of a synthetic face the way frames go (alignment to the
        card's template, gamma, tensor, session): a file can pass the card check and still
        fail on the way. Raises ModelCardError saying why."""
        spec = self.spec
        frame = np.full((192, 192, 3), 128, np.uint8)  # mid-grey, a 128-pixel face
        anchors = {name: np.asarray(spec.template.point(name)) * 128 + 32 for name in ANCHOR_NAMES}
        try:
            batch, _ = crops_to_batch([crop_face(frame, anchors, spec)] * faces, spec)
            probabilities = self.probabilities(batch)
        except Exception as error:  # ORT raises its own pybind exception types
            raise ModelCardError(f"{self.path}: the model does not run: "
                                 f"{str(error).strip()[:300]}") from None
        if probabilities.shape != (faces, self.card.num_classes):
            raise ModelCardError(f"{self.path}: the model gives {probabilities.shape[1:]} outputs "
                                 f"per face, its card names {self.card.num_classes} labels")
