"""An emotion model as the app runs it: an ONNX Runtime session plus its model card."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.model_card import INPUT_NAME, OUTPUT_NAME, ModelCard, card_of_session, open_session
from app.preprocess import PreprocessSpec
from app.providers import probe

log = logging.getLogger(__name__)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


class EmotionClassifier:
    """Loads an ONNX emotion model, checks its card, and classifies batches of face tensors.

    ``providers`` defaults to the probe's choice (``app.providers.probe``): TensorRT or
    CUDA when they really run here, else the CPU; pass ``ProviderReport.session_providers``
    of another request, or an explicit list. Raises ``app.model_card.ModelCardError`` for
    a missing, corrupt or foreign file.
    """

    def __init__(self, path: str | Path, providers: Sequence | None = None) -> None:
        if providers is None:
            providers = probe().session_providers
        self.path = Path(path)
        self.session = open_session(self.path, list(providers))
        self.card: ModelCard = card_of_session(self.session, str(self.path))
        self.spec = PreprocessSpec.from_card(self.card)

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
