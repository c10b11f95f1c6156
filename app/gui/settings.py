"""What the window remembers between runs: layout, last source, model, smoothing, gamma,
and the folder recordings go to. Never a password: a stream URL is kept without its
user information and secret query parameters (``app.sources.stream_urls``). A number
that is not finite (``nan`` typed into the file) reads as the default.

Stored per user in an INI file in the platform's settings folder (the same format
everywhere, so a file can be inspected or copied). ``EMOTION_APP_SETTINGS`` names
another file: scripted runs and the tests use it, so they never touch the user's.
"""

from __future__ import annotations

import math
import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.face.steady import DEFAULT_TIME_CONSTANT_S
from app.sources.stream_urls import without_credentials

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
        value = settings.store.value(self.key, self.default, type=self.kind)
        if self.kind is float and not math.isfinite(value):  # nan passes every min/max clamp
            return self.default
        return value

    def __set__(self, settings: AppSettings, value: Any) -> None:
        settings.store.setValue(self.key, value)


class _SourceSetting(_Setting):
    """A source, stored without a stream URL's user name and password: the INI file is
    plain text, so credentials are typed again rather than kept there."""

    def __set__(self, settings: AppSettings, value: Any) -> None:
        super().__set__(settings, without_credentials(str(value)))


class AppSettings:
    geometry = _Setting(QByteArray())
    window_state = _Setting(QByteArray())
    last_source = _SourceSetting("", str)
    """The last source opened: a camera index, a path or a stream URL (without credentials)."""
    model = _Setting("", str)
    """The path of the last model that loaded."""
    smoothing_s = _Setting(DEFAULT_TIME_CONSTANT_S, float)
    """The smoothing time constant in seconds (the older ``smoothing`` key held a per-frame
    weight, and is ignored)."""
    gamma = _Setting(True, bool)
    views = _Setting("auto", str)
    """The test-time views setting (``app.model.views.CHOICES``)."""
    recording_folder = _Setting("", str)

    def __init__(self, store: QSettings) -> None:
        self.store = store
        if self.last_source != without_credentials(self.last_source):  # kept by an older version
            self.last_source = self.last_source

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
