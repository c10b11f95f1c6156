"""Emotion models as ONNX files: their cards, the folders they are found in, and running them.

``card`` is the training-to-app contract embedded in each file, ``library`` finds and
ranks installed files, ``providers`` decides which ONNX Runtime execution provider runs
them (GPU when it works, CPU otherwise) and ``inference`` runs one batch of faces.
"""
