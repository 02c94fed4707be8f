"""The package version, in one place (read by __init__ and the command line)."""

__version__ = "0.1.0"
