"""Canonical emotion label orders."""

# Class index order of the original fer2013.csv; exported models use it unless their
# model card says otherwise.
FER2013_LABELS: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)
