"""The process around the app: logging, quiet native libraries, exit codes, terminal text."""
