"""Run a shell command in its own process group, with a timeout, a cancel flag and capped output."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..controls import RunInterrupted
from .text import strip_ansi

OUTPUT_LIMIT = 200_000  # bytes of stdout+stderr kept: the head and the tail, half each
POLL_S = 0.05

# Plain output for every runner; the caller's `env` can still override these.
QUIET_ENV = {"NO_COLOR": "1", "PY_COLORS": "0", "CARGO_TERM_COLOR": "never"}


@dataclass
class ProcessResult:
    exit_code: int | None  # None when killed for a timeout
    output: str
    duration_s: float
    timed_out: bool = False
    start_error: str | None = None  # the command could not be started at all


class OutputBuffer:
    """Keeps the first and the last `limit / 2` bytes of a stream, and counts what it dropped."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes of output truncated ...]\n{tail}"
        return head + tail


def build_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The inherited environment, made colour-free, then the caller's variables on top."""
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)  # node warns when both FORCE_COLOR and NO_COLOR are set
    env.update(QUIET_ENV)
    env.update(extra or {})
    return env


def run_process(
    command: str,
    cwd: Path,
    timeout_s: float,
    cancel: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> ProcessResult:
    """Run `command` through the shell; stdout and stderr are read together, as they were printed.

    `env` is the whole environment (default: `build_env()`).

    A timeout kills the whole process tree and returns `timed_out=True`; a set `cancel`
    kills it and raises `RunInterrupted`.
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            shell=True,
            executable=shutil.which("bash") or None,
            cwd=cwd,
            env=dict(env) if env is not None else build_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return ProcessResult(None, "", time.monotonic() - started, start_error=f"{exc.strerror or exc}: {cwd}")

    buffer = OutputBuffer()
    reader = threading.Thread(target=_pump, args=(proc, buffer), daemon=True)
    reader.start()
    deadline = started + timeout_s
    timed_out = False
    try:
        while True:
            try:
                proc.wait(timeout=POLL_S)  # returns the moment the command exits
                break
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                _kill_group(proc)
                raise RunInterrupted()
            if time.monotonic() >= deadline:
                _kill_group(proc)
                timed_out = True
                break
    except BaseException:
        _kill_group(proc)  # Ctrl-C in the caller's thread: leave nothing running
        raise
    # A grandchild that left the group may keep the pipe open: do not wait for it forever.
    reader.join(timeout=1.0 if timed_out else 5.0)
    return ProcessResult(
        exit_code=None if timed_out else proc.returncode,
        output=strip_ansi(buffer.text()),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
    )


def _pump(proc: subprocess.Popen[bytes], buffer: OutputBuffer) -> None:
    stream = proc.stdout
    assert isinstance(stream, io.BufferedReader)
    with stream:
        for chunk in iter(lambda: stream.read1(65536), b""):
            buffer.add(chunk)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group the command leads, then reap the shell."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass
