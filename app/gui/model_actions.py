"""The model menu, for the main window: every model the library finds, listed by its
card, files the user opened, and switching between them without freezing the window.

Listing reads every file's card, which opens an ONNX Runtime session per file (a
second or more for large models), so it runs on the thread pool, like loading: a model
loads and test-runs there and analyses frames from the next one on (``MODEL_CHANGED``
follows). A file that fails (corrupt, foreign, not runnable) leaves the running model in
place and says why in the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.gui import dialogs
from app.inference import EmotionClassifier
from app.model_library import HOW_TO_GET_ONE, ModelEntry, RefusedModel, default_model, scan_models

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

OPEN_FILE = "Open ONNX file\u2026"


class ModelActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.path: str | None = None
        """The model loaded last: running, or running from the next frame."""
        self.entries: list[ModelEntry] = []
        self.refused: list[RefusedModel] = []
        self.opened: dict[str, str] = {}
        """Files the user opened from elsewhere: path -> menu label."""

    def start(self) -> None:
        """List the models and start the pipeline with the first one: at once for
        ``--model`` or the model used last (if still there), else with the most accurate
        once the list is known."""
        window = self.window
        chosen = window.options.model or (
            window.settings.model if window.settings.model and Path(window.settings.model).is_file()
            else None)
        if chosen:
            window.session.start(chosen)
            self.refresh()
        else:
            self.refresh(then=lambda: window.session.start(self.most_accurate()))

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """List the models folders' files again, on the pool; ``then`` runs once listed."""
        dirs = self.window.options.model_dirs
        dirs = list(dirs) if dirs is not None else None

        def listed(found: tuple[list[ModelEntry], list[RefusedModel]]) -> None:
            self.entries, self.refused = found
            self._show()
            if then is not None:
                then()

        self.window.session.background.call(lambda: scan_models(dirs), listed,
                                            lambda error: listed(([], [])), what="listing models")

    def most_accurate(self) -> str | None:
        """The default model's path (``app.model_library.default_model``), None without one."""
        best = default_model(self.entries)
        return None if best is None else str(best.path)

    def choose(self, path: str | Path) -> None:
        """Load ``path``; ``loaded`` or ``failed`` follows."""
        controls = self.window.controls
        controls.model_box.setEnabled(False)
        controls.set_model_state(f"Loading {Path(path).name}\u2026")
        self.window.session.choose_model(str(path))

    def ask_file(self) -> None:
        path = dialogs.choose_onnx_file(self.window, str(Path(self.path or ".").parent))
        if path:
            self.choose(path)
        else:
            self.window.controls.select_model(self.path)

    def loaded(self, model: EmotionClassifier) -> None:
        window, controls = self.window, self.window.controls
        path = self.path = str(model.path)
        if controls.model_box.findData(path) < 0:
            self.opened[path] = ModelEntry(model.path, model.card).label
            self._show()
        controls.model_box.setEnabled(True)
        controls.select_model(path)
        entry = ModelEntry(model.path, model.card)
        controls.set_model_state(f"{model.card.architecture}, {entry.input_text} input; runs on "
                                 f"{model.provider.removesuffix('ExecutionProvider')}",
                                 f"{entry.accuracy_text}\n{model.card.dataset}\n{model.path}")
        window.settings.model = path
        window.banner.clear("model")

    def failed(self, message: str) -> None:
        controls = self.window.controls
        controls.model_box.setEnabled(True)
        controls.select_model(self.path)
        running = f"{Path(self.path).name} keeps running." if self.path else "No model is running."
        controls.set_model_state(running)
        self.window.banner.show_message("model", f"Cannot use this model: {message.rstrip('.')}. {running}",
                                        "error", (OPEN_FILE, self.ask_file))

    def _show(self) -> None:
        """The menu: the listed models, then the files opened by hand that are not listed."""
        listed = {str(entry.path) for entry in self.entries}
        self.opened = {path: label for path, label in self.opened.items() if path not in listed}
        self.window.controls.set_models(self.entries, self.refused, self.opened)
        self.window.controls.select_model(self.path)

    def none_installed(self) -> None:
        self.window.banner.show_message(
            "model", f"No emotion model installed: frames are shown without analysis. {HOW_TO_GET_ONE}",
            "warning", (OPEN_FILE, self.ask_file))
