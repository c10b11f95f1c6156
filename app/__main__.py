import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # A frozen bundle's ``batch`` workers are started by running this executable again;
    # freeze_support() makes such a start run the worker, not the app.
    multiprocessing.freeze_support()
    sys.exit(main())
