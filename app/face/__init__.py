"""From a frame to a model's input, face by face, and from readings to steady faces.

Landmarks (MediaPipe face mesh, detector fallback) -> similarity alignment to the card's
template -> quality measures -> adaptive gamma and normalisation (``preprocess``, the
one place a face becomes a tensor, shared with training); over time, ``tracking``
keeps face IDs and ``steady`` smooths each face's probabilities.
"""
