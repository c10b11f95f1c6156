"""``emotion-app batch``: many recordings through the headless run path, in parallel.

Every video file and image folder found in the inputs becomes one task; each task is
one ``--headless``-style run (``app.headless.build_pipeline`` and ``analyse``) writing
one CSV, so a batch CSV has exactly the columns and rows a headless run writes for
that file. The parts:

- ``inputs``: what the command line names, walked into tasks, and where each CSV goes
  (the input tree mirrored under ``--out``);
- ``manifest``: ``manifest.csv``, one row per input, which makes a batch resumable;
- ``work``: one task in whatever process runs it (a local worker or a Ray task);
- ``local``: worker processes on this machine; ``ray_runner``: a Ray cluster (the only
  module that imports ``ray``, and only when ``--ray`` is given);
- ``progress`` and ``command``: the progress line, the summary and the exit code.
"""
