"""The engine's `RunRequest` for a run started from the editor, built in one place (no LSP).

defaults < micro-agent.yml < tier file < the editor's settings < the command's arguments (one schema:
micro_agent.run_settings); the run never writes the user's files (the fix comes back as edits); `escalated` slices a
request to start after the last run's last tier, with that run's failure history from the audit DB.
"""

from __future__ import annotations

from pathlib import Path

from micro_agent.config import ConfigError, RunRequest

from .arguments import RunArgs
from .files import NoTarget, RunFiles, resolve_run_files
from .editor_settings import ServerSettings


class CannotRun(Exception):
    """A run cannot start (or a command cannot be answered); the message says why and what to do."""


def run_files(path: str) -> RunFiles:
    """The target and tests of `path` (a target or a test file); CannotRun when a test file's target is unknown."""
    try:
        return resolve_run_files(Path(path))
    except NoTarget as exc:
        raise CannotRun(str(exc)) from None


def build_run_request(settings: ServerSettings, files: RunFiles, options: RunArgs,
                      overlays: dict[str, str]) -> tuple[RunRequest, list[str]]:
    """The request and the config warnings; CannotRun naming the config errors."""
    from micro_agent.request_builder import build_request
    from micro_agent.run_settings import RunSettings

    tier_config = options.tier_config or settings.tier_config
    command = RunSettings(test_command=options.test_command, mode=options.mode, apply=False,  # edits, not writes
                          tier_config=str((files.root / tier_config).resolve()) if tier_config else None)
    editor = settings.model_copy(update={"tier_config": None})  # resolved against the root, in `command`
    try:
        request, warnings = build_request(files.root, files.target_path, editor, command, overlays=overlays)
    except ConfigError as exc:
        raise CannotRun(f"Micro Agent cannot start on {files.target}: " + "; ".join(exc.problems)) from None
    return request.model_copy(update={"test_files": list(files.test_files)}), warnings


def escalated(request: RunRequest, target: str) -> RunRequest:
    """`request` starting at the tier after the last run on `target`'s last tier, seeded with that run's
    failure history; CannotRun when there is no earlier run or it already reached the last tier."""
    from micro_agent.audit import failure_history, last_run_for_target, open_db

    db_path = request.audit_db_path
    last = None
    if db_path is not None and Path(db_path).is_file():
        try:
            conn = open_db(Path(db_path), readonly=True)
            try:
                last = last_run_for_target(conn, target)
                history = failure_history(conn, last["run_id"]) if last else ""
            finally:
                conn.close()
        except Exception as exc:
            raise CannotRun(f"Micro Agent cannot read its audit log {db_path}: {exc}") from None
    if last is None:
        raise CannotRun(f"Micro Agent has no earlier run on {target} to escalate from. "
                        "Start one with 'Fix with Micro Agent' (microAgent.run).")
    names = [t.name for t in request.tiers]
    last_tier = last.get("last_tier_name")
    if last_tier in names:
        next_index = names.index(last_tier) + 1
    else:
        next_index = (last.get("last_tier_index") or 0) + 1
    if next_index >= len(request.tiers):
        raise CannotRun(f"The last run on {target} already reached the last tier ({names[-1]}). "
                        "Add a stronger tier to your tier config, or pick stronger models, then run it again.")
    return request.model_copy(update={"tiers": request.tiers[next_index:], "escalation_context": history})
