"""``import mediapipe`` without the parts that cost the app start-up time and do nothing.

``mediapipe/__init__.py`` imports every task and legacy solution. Two of those imports
are expensive and useless here:

- the audio tasks import ``sounddevice``, whose search for the PortAudio library
  (``ctypes.util.find_library``) runs ``ldconfig`` three times and ``gcc`` and ``ld``
  three times each on Linux, at every start; the app never records audio;
- the legacy ``drawing_utils`` imports ``matplotlib.pyplot`` (slow: ``python benchmarks/startup.py``; on a
  fresh account a font scan that runs ``fc-list``) for a plotting helper the app never
  calls.

So for the duration of the import both are stand-ins that raise if used. (Marking
``sounddevice`` missing would do too, but mediapipe keeps the ImportError, and with its
traceback every frame that led to the import: the first pipeline would never be freed.)
Neither stays in ``sys.modules`` afterwards, so code that wants the real packages later
(the training package plots with matplotlib) still imports them.
``benchmarks/startup.py`` measures the difference.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

_lock = threading.Lock()


class _Unavailable(types.ModuleType):
    """A module mediapipe imports and the app never uses; using it says so."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(f"{self.__name__}.{name}: not loaded by Emotion Live "
                          "(see app.face.mediapipe_import)")


def import_mediapipe() -> types.ModuleType:
    """The ``mediapipe`` package, imported without audio and plotting (see above)."""
    with _lock:
        if "mediapipe" in sys.modules:
            return sys.modules["mediapipe"]
        stand_ins: dict[str, Any] = {}
        if "sounddevice" not in sys.modules:
            stand_ins["sounddevice"] = _Unavailable("sounddevice")
        if "matplotlib" not in sys.modules:
            plotting = stand_ins["matplotlib"] = _Unavailable("matplotlib")
            plotting.pyplot = stand_ins["matplotlib.pyplot"] = _Unavailable("matplotlib.pyplot")
        sys.modules.update(stand_ins)
        try:
            import mediapipe
        finally:
            for name, module in stand_ins.items():
                if name in sys.modules and sys.modules[name] is module:
                    del sys.modules[name]
        return mediapipe
