"""What a run leaves behind and shows: the CSV timeline, annotated frames, plots, summaries.

Everything here reads ``app.results`` values; nothing reaches back into the pipeline.
"""
