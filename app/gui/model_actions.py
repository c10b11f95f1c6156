"""The model menu, for the main window: every model the library finds, listed by its
card, files the user opened, and switching between them without freezing the window.

Listing reads every file's card (from its header) on the thread pool, like loading; the
menu lists the models most accurate first, each with its time per face on this machine
(``app.model.speed``: measured once per file, on the pool, and remembered). A model
loads and test-runs on the pool too and analyses frames from the next one on
(``MODEL_CHANGED`` follows). A file that fails (corrupt, foreign, not runnable) leaves the running model in
place and says why in the window. It fills the Controls dock's model box and the File
menu's model entries, and talks to the pipeline only through ``Session``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QMenu, QWidget

from app.gui import dialogs
from app.gui.banner import BannerArea
from app.gui.controls import OPEN_MODEL, ControlPanel
from app.gui.menus import add_action
from app.gui.session import Session, Startup
from app.gui.settings import AppSettings
from app.model.inference import EmotionClassifier
from app.model.library import (
    HOW_TO_GET_ONE,
    ModelEntry,
    RefusedModel,
    by_accuracy,
    default_model,
    scan_models,
)
from app.model.speed import measure_ms, remembered_ms, speed_text


class ModelActions:
    def __init__(self, session: Session, settings: AppSettings, controls: ControlPanel,
                 banner: BannerArea, dialog_parent: QWidget, model: str | None = None,
                 model_dirs: Sequence[Path] | None = None) -> None:
        self.session, self.settings, self.controls, self.banner = session, settings, controls, banner
        self.dialog_parent = dialog_parent
        """What the file dialog opens over."""
        self.requested = model
        """``--model``: started with instead of the model used last."""
        self.model_dirs = list(model_dirs) if model_dirs is not None else None
        """The folders listed (None: ``app.model.library.model_dirs()``)."""
        self.path: str | None = None
        """The model loaded last: running, or running from the next frame."""
        self.entries: list[ModelEntry] = []
        self.refused: list[RefusedModel] = []
        self.opened: dict[str, str] = {}
        """Files the user opened from elsewhere: path -> menu label."""
        self.speeds: dict[str, float | None] = {}
        """Listed model path -> its milliseconds per face here (None: not known yet)."""
        self._measuring = False
        for signal, slot in ((session.model_loaded, self.loaded), (session.model_failed, self.failed),
                             (controls.model_chosen, self.choose),
                             (controls.open_model_clicked, self.ask_file)):
            signal.connect(slot)

    def fill_menu(self, menu: QMenu) -> None:
        """The File menu's model entries."""
        add_action(menu, "Open ONNX &model\u2026", self.ask_file)
        add_action(menu, "&Refresh model list", lambda: self.refresh())

    def start(self) -> None:
        """List the models and start the pipeline with the first one: at once for
        ``--model`` or the model used last (if still there), else with the most accurate
        once the list is known."""
        remembered = self.settings.model
        chosen = self.requested or (remembered if remembered and Path(remembered).is_file() else None)
        if chosen:
            self.session.start(chosen)
            self.refresh()
        else:
            self.refresh(then=lambda: self.session.start(self.most_accurate()))

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """List the models folders' files again, on the pool; ``then`` runs once listed."""
        dirs = self.model_dirs

        def listed(found: tuple[list[ModelEntry], list[RefusedModel]]) -> None:
            self.entries, self.refused = found
            self._show()
            if then is not None:
                then()
            self._measure_speeds()

        self.session.background.call(lambda: scan_models(dirs), listed,
                                     lambda error: listed(([], [])), what="listing models")

    def most_accurate(self) -> str | None:
        """The default model's path (``app.model.library.default_model``), None without one."""
        best = default_model(self.entries)
        return None if best is None else str(best.path)

    def choose(self, path: str | Path) -> None:
        """Load ``path``; ``loaded`` or ``failed`` follows."""
        self.controls.model_box.setEnabled(False)
        self.controls.set_model_state(f"Loading {Path(path).name}\u2026")
        self.session.choose_model(str(path))

    def ask_file(self) -> None:
        path = dialogs.choose_onnx_file(self.dialog_parent, str(Path(self.path or ".").parent))
        if path:
            self.choose(path)
        else:
            self.controls.select_model(self.path)

    def show_startup(self, startup: Startup) -> None:
        """The model the pipeline started with, why it could not load, or that none is installed."""
        if startup.model is not None:
            self.loaded(startup.model)
        elif startup.model_error:
            self.failed(startup.model_error)
        else:
            self.none_installed()

    def loaded(self, model: EmotionClassifier) -> None:
        controls = self.controls
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
        self.settings.model = path
        self.banner.clear("model")

    def failed(self, message: str) -> None:
        controls = self.controls
        controls.model_box.setEnabled(True)
        controls.select_model(self.path)
        running = f"{Path(self.path).name} keeps running." if self.path else "No model is running."
        controls.set_model_state(running)
        self.banner.show_message("model", f"Cannot use this model: {message.rstrip('.')}. {running}",
                                 "error", (OPEN_MODEL, self.ask_file))

    def _show(self) -> None:
        """The menu: the listed models, most accurate first, each with its speed here; then
        the files opened by hand that are not listed."""
        listed = {str(entry.path) for entry in self.entries}
        self.opened = {path: label for path, label in self.opened.items() if path not in listed}
        speeds = {path: speed_text(milliseconds) for path, milliseconds in self.speeds.items()}
        self.controls.set_models(by_accuracy(self.entries), self.refused, self.opened, speeds)
        self.controls.select_model(self.path)

    def _measure_speeds(self) -> None:
        """Each listed model's time per face here: remembered, else measured on the pool,
        one model at a time (the menu's line says "measuring" until then)."""
        for entry in self.entries:
            path = str(entry.path)
            if path not in self.speeds:
                self.speeds[path] = remembered_ms(path)
        waiting = [path for path, milliseconds in self.speeds.items() if milliseconds is None]
        if not waiting or self._measuring:
            return
        self._measuring = True

        def measured(milliseconds: float | None, path: str = waiting[0]) -> None:
            self._measuring = False
            self.speeds[path] = milliseconds if milliseconds is not None else float("nan")
            self._show()
            self._measure_speeds()

        self.session.background.call(lambda: measure_ms(waiting[0]), measured,
                                     lambda error: measured(None), what="timing a model")

    def none_installed(self) -> None:
        self.banner.show_message(
            "model", f"No emotion model installed: frames are shown without analysis. {HOW_TO_GET_ONE}",
            "warning", (OPEN_MODEL, self.ask_file))
