"""Micro Agent: fixes code until its tests pass."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("micro-agent")  # the one place the version lives is pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
