"""Does a per-person neutral baseline help? Accuracy on the Yale faces' happy, sad and
surprised images with and without each person's baseline from their ``normal`` image.

    python benchmarks/calibration.py > docs/results/calibration.md

The Yale Face Database (Belhumeur, Hespanha and Kriegman, "Eigenfaces vs. Fisherfaces:
Recognition using class specific linear projection", IEEE TPAMI 19(7), 1997,
doi:10.1109/34.598228) has 15 people, one image per person per condition. Each image
goes through ``app.api.EmotionRecognizer`` (the app's own landmarks, alignment, gamma
and model; the largest face). A person's baseline is ``app.face.baseline.Baseline`` made
from their ``normal`` image; each correction in ``CORRECTIONS`` is scored against no
correction on the same 45 images (paired):

- McNemar's exact test on the images only one of the two gets right;
- a 95 % percentile bootstrap interval of the difference in accuracy that resamples
  people (all three of a person's images together, since they share one baseline and
  one face), ``--resamples`` times, seeded.

A correction's cost is shown beside it: the share of other resting-face images
(``NEUTRAL_ISH``: glasses, no glasses, centre light) still read as neutral.

The app applies the correction with the highest accuracy for the default model; with 45
images from 15 people that choice and its interval come from the same images, which the
table says.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from latency import markdown_table

from app.api import EmotionRecognizer
from app.face.baseline import CORRECTION, CORRECTIONS, Baseline
from app.model.library import most_accurate_installed, scan_models
from training.significance import mcnemar_exact

log = logging.getLogger("benchmarks.calibration")

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "yalefaces"
EXPRESSIONS = {"happy": "happy", "sad": "sad", "surprised": "surprise"}
"""Yale's condition folder -> the model's label."""
NEUTRAL = "normal"
NEUTRAL_ISH = ("glasses", "noglasses", "centerlight")
"""Other images of a resting face: the share still read as neutral is the correction's cost."""
SEED = 0


@dataclass(frozen=True)
class Person:
    name: str
    baseline: np.ndarray | None
    """Probabilities of the ``normal`` image; None when no face was found in it."""
    expressions: dict[str, np.ndarray | None]
    """Yale condition -> probabilities (None: no face found)."""


def read_people(recognizer: EmotionRecognizer, data: Path) -> list[Person]:
    people = []
    for neutral in sorted((data / NEUTRAL).glob(f"*_{NEUTRAL}.png")):
        name = neutral.name.split("_")[0]
        images = {condition: data / condition / f"{name}_{condition}.png"
                  for condition in (*EXPRESSIONS, *NEUTRAL_ISH)}
        read = {condition: _probabilities(recognizer, image) for condition, image in images.items()}
        people.append(Person(name, _probabilities(recognizer, neutral), read))
    return people


def _probabilities(recognizer: EmotionRecognizer, path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    faces = recognizer.analyze(path)
    if not faces:
        log.warning("no face found in %s", path)
        return None
    return np.array([faces[0].probabilities[label] for label in recognizer.labels])


def correctness(people: list[Person], labels: tuple[str, ...], correction: str | None,
                conditions: dict[str, str] = EXPRESSIONS) -> np.ndarray:
    """(people, conditions): 1 where the image's top emotion is its label; an image without
    a face, or a person without a baseline, counts as wrong for every correction alike."""
    table = np.zeros((len(people), len(conditions)))
    for row, person in enumerate(people):
        for column, (condition, label) in enumerate(conditions.items()):
            values = person.expressions[condition]
            if values is None or (correction is not None and person.baseline is None):
                continue
            if correction is not None:
                baseline = Baseline.from_probabilities([person.baseline], labels, person.name)
                values = CORRECTIONS[correction](values, baseline.probabilities)
            table[row, column] = labels[int(np.argmax(values))] == label
    return table


def person_bootstrap(before: np.ndarray, after: np.ndarray, resamples: int) -> tuple[float, float]:
    """95 % percentile interval of the accuracy difference, resampling people."""
    rng = np.random.default_rng(SEED)
    rows = rng.integers(0, len(before), size=(resamples, len(before)))
    differences = after[rows].mean(axis=(1, 2)) - before[rows].mean(axis=(1, 2))
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def model_rows(name: str, people: list[Person], labels: tuple[str, ...], resamples: int) -> list[list[str]]:
    plain = correctness(people, labels, None)
    resting = {condition: "neutral" for condition in NEUTRAL_ISH}
    rows = [[name, "none", _percent(plain.mean()), *(_percent(plain[:, c].mean()) for c in range(3)),
             "", "", "", _percent(correctness(people, labels, None, resting).mean())]]
    for correction in CORRECTIONS:
        corrected = correctness(people, labels, correction)
        only_plain = int(((plain == 1) & (corrected == 0)).sum())
        only_corrected = int(((plain == 0) & (corrected == 1)).sum())
        low, high = person_bootstrap(plain, corrected, resamples)
        rows.append([name, correction, _percent(corrected.mean()),
                     *(_percent(corrected[:, c].mean()) for c in range(3)),
                     f"{100 * (corrected.mean() - plain.mean()):+.1f} "
                     f"({100 * low:+.1f} to {100 * high:+.1f})",
                     f"{only_corrected} / {only_plain}", f"{mcnemar_exact(only_plain, only_corrected):.3g}",
                     _percent(correctness(people, labels, correction, resting).mean())])
    return rows


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the yalefaces folder")
    parser.add_argument("--models", nargs="*", help="model names (default: every installed model)")
    parser.add_argument("--resamples", type=int, default=10000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if not (args.data / NEUTRAL).is_dir():
        print(f"no Yale faces at {args.data} (expected {NEUTRAL}/, happy/, sad/, surprised/)",
              file=sys.stderr)
        return 2
    default = most_accurate_installed().path.stem
    names = args.models or sorted((entry.path.stem for entry in scan_models()[0]),
                                  key=lambda stem: (stem != default, stem))
    rows, found = [], {}
    for name in names:
        with EmotionRecognizer(name, provider="cpu") as recognizer:
            people = read_people(recognizer, args.data)
            labels = recognizer.labels
        found[name] = sum(value is not None for person in people
                          for value in [person.baseline, *person.expressions.values()])
        rows += model_rows(name + " (default)" * (name == default), people, labels, args.resamples)
    images = len(people) * (1 + len(EXPRESSIONS) + len(NEUTRAL_ISH))
    print(f"Yale faces: {len(people)} people, each with a `{NEUTRAL}` image (the baseline) and "
          f"{', '.join(EXPRESSIONS)} ({len(people) * len(EXPRESSIONS)} scored images); faces found in "
          + ", ".join(f"{count}/{images} images ({name})" for name, count in found.items())
          + f". Paired against no correction on the same images; interval: 95 % percentile "
          f"bootstrap over people, {args.resamples} resamples, seed {SEED}.\n")
    print(markdown_table(["model", "correction", "accuracy", "happy", "sad", "surprise",
                          "difference, points (95 % interval)", "images only it / only none gets right",
                          "McNemar exact p", f"resting faces read neutral ({', '.join(NEUTRAL_ISH)})"],
                         rows))
    judged = default if default in names else names[0]
    best = max(CORRECTIONS, key=lambda correction: float(next(
        row[2].split()[0] for row in rows if row[0].split()[0] == judged and row[1] == correction)))
    print(f"\nHighest accuracy with {judged}: `{best}`; the app applies "
          f"`{CORRECTION}` (app.face.baseline.CORRECTION). The choice and the interval come from "
          f"the same {len(people) * len(EXPRESSIONS)} images.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
