"""PyInstaller runtime hook: ``import mediapipe`` without matplotlib in the bundle.

``mediapipe/__init__.py`` imports every legacy solution, and with them
``drawing_utils``, which imports ``matplotlib.pyplot`` at module level for its
``plot_landmarks`` helper alone. The app never plots through MediaPipe, so matplotlib
(with PIL, fontTools and kiwisolver, about 60 MB) stays out of the bundle and this
placeholder takes its place: importing it succeeds, using it says why it cannot work.
"""

import sys
import types


class _NotBundled(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(f"{self.__name__}.{name}: matplotlib is not part of the Emotion Live bundle")


if "matplotlib" not in sys.modules:
    _package = _NotBundled("matplotlib")
    _package.pyplot = sys.modules["matplotlib.pyplot"] = _NotBundled("matplotlib.pyplot")
    sys.modules["matplotlib"] = _package
