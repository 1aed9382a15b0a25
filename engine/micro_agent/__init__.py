"""Micro Agent: fixes code until its tests pass."""


def __getattr__(name: str) -> str:
    """`micro_agent.__version__`, read from the installed metadata at first use: importlib.metadata costs
    about 30 ms of every command-line start, and only `--version` and the language server need it."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("micro-agent")  # the one place the version lives is pyproject.toml
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
