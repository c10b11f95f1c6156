"""Where frames come from: cameras, video files, streams and image folders.

``capture.open_reader`` turns what the user typed into a reader that hands out
``app.results.Frame`` values, in order (files) or always the newest (live sources).
"""
