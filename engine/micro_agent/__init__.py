"""Micro Agent: fixes code until its tests pass."""

__version__ = "0.1.0"
