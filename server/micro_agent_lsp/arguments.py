"""The arguments of the `microAgent.*` commands, validated (pure).

Each command takes one object (`[{uri, ...}]`); the positional form `[uri, line]` that some editor
configs find easier to write is accepted too. Without a uri (Helix's `:lsp-workspace-command` sends
none) the server uses the file the user touched last.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Args(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class UriArgs(_Args):
    uri: str | None = Field(default=None, min_length=1)


class RunArgs(_Args):
    uri: str | None = Field(default=None, min_length=1)
    line: int | None = Field(default=None, ge=0)
    test_command: str | None = Field(default=None, alias="testCommand", min_length=1)
    mode: Literal["simple", "full"] | None = None
    tier_config: str | None = Field(default=None, alias="tierConfig", min_length=1)


class BadArguments(ValueError):
    """The command's arguments do not fit; the message says what it expects."""


def parse_arguments(model: type[_Args], command: str, args: tuple[Any, ...]) -> Any:
    """`args` as sent by the client, as `model`; BadArguments naming the problem otherwise."""
    if not args:
        data: Any = {}
    elif isinstance(args[0], dict):
        data = args[0]
    elif isinstance(args[0], str):  # positional: uri[, line]
        data = {"uri": args[0]}
        if len(args) > 1 and isinstance(args[1], int):
            data["line"] = args[1]
    else:
        raise BadArguments(f"{command}: expected [{{\"uri\": ...}}], got {list(args)!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors())
        raise BadArguments(f"{command}: {problems}") from None
