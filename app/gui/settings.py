"""What the window remembers between runs: layout, last source, model, smoothing, gamma,
and the folder recordings go to.

Stored per user in an INI file in the platform's settings folder (the same format
everywhere, so a file can be inspected or copied). ``EMOTION_APP_SETTINGS`` names
another file: scripted runs and the tests use it, so they never touch the user's.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "emotion-live"
APPLICATION = "emotion-app"
SETTINGS_ENV = "EMOTION_APP_SETTINGS"


class _Setting:
    """One typed value; the attribute's name is its key."""

    def __init__(self, default: Any, kind: type | None = None) -> None:
        self.default = default
        self.kind = kind

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, settings: AppSettings | None, owner: type | None = None) -> Any:
        if settings is None:
            return self
        if self.kind is None:
            return settings.store.value(self.key, self.default)
        return settings.store.value(self.key, self.default, type=self.kind)

    def __set__(self, settings: AppSettings, value: Any) -> None:
        settings.store.setValue(self.key, value)


class AppSettings:
    geometry = _Setting(QByteArray())
    window_state = _Setting(QByteArray())
    last_source = _Setting("", str)
    """The last source opened: a camera index, a path or a stream URL."""
    model = _Setting("", str)
    """The path of the last model that loaded."""
    smoothing = _Setting(0.6, float)
    gamma = _Setting(True, bool)
    recording_folder = _Setting("", str)

    def __init__(self, store: QSettings) -> None:
        self.store = store

    @classmethod
    def default(cls) -> AppSettings:
        """The user's settings, or the file ``EMOTION_APP_SETTINGS`` names."""
        path = os.environ.get(SETTINGS_ENV, "").strip()
        if path:
            return cls.at(path)
        return cls(QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                             ORGANISATION, APPLICATION))

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> AppSettings:
        return cls(QSettings(os.fspath(path), QSettings.Format.IniFormat))

    def sync(self) -> None:
        self.store.sync()
