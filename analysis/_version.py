"""The package version, in one place (read by pyproject, the CLI and every output)."""

__version__ = "0.1.0"
