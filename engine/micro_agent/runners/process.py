"""Run a shell command in its own process group, with a timeout, a cancel flag and capped output.

Nothing outlives the caller: the group is killed on every way out of `run_process` (exit, timeout,
cancel, an exception), and a watchdog (a tiny `sh` in a session of its own) kills it when the caller
dies without a chance to clean up (SIGKILL, a crash): it waits on a pipe only the caller holds, and
the kernel closes that pipe whatever way the caller ends.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..controls import RunInterrupted
from .text import strip_ansi

OUTPUT_LIMIT = 200_000  # bytes of stdout+stderr kept: the head and the tail, half each
POLL_S = 0.05
# A command that timed out first gets SIGINT (pytest & co print where they were), then SIGKILL.
TIMEOUT_GRACE_S = 2.0
# Reads until the caller's end of the pipe closes, then kills the command's process group.
_WATCHDOG_SCRIPT = 'read _ignored; kill -s KILL -- "-$1" 2>/dev/null; exit 0'

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
    release_watchdog = _start_watchdog(proc.pid)
    try:
        return _supervise(proc, started, timeout_s, cancel)
    finally:
        _kill_group(proc)  # whatever the command left running in its group goes with it
        release_watchdog()


def _supervise(proc: subprocess.Popen[bytes], started: float, timeout_s: float,
               cancel: threading.Event | None) -> ProcessResult:
    buffer = OutputBuffer()
    reader = threading.Thread(target=_pump, args=(proc, buffer), daemon=True)
    reader.start()
    exited = _exit_event(proc)
    deadline = started + timeout_s
    timed_out = False
    while not exited.wait(POLL_S):  # returns the moment the command exits
        if cancel is not None and cancel.is_set():
            raise RunInterrupted()  # the caller's `finally` kills the group
        if time.monotonic() >= deadline:
            _interrupt_group(proc, exited, cancel)
            timed_out = True
            break
    _kill_group(proc)  # a background process left in the group would hold the pipe open
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


def _start_watchdog(pgid: int) -> Callable[[], None]:
    """Start the watchdog of process group `pgid`; returns the function that lets it go (idempotent).

    Letting it go closes our end of its pipe: the watchdog then kills what is left of the group and exits.
    Where there is no `sh` or no process groups (Windows), there is no watchdog.
    """
    shell = shutil.which("sh")
    if shell is None or not hasattr(os, "killpg"):
        return lambda: None
    read_end, write_end = os.pipe()  # not inheritable: no test process holds our end open
    try:
        watchdog = subprocess.Popen([shell, "-c", _WATCHDOG_SCRIPT, "micro-agent-watchdog", str(pgid)],
                                    stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)  # a Ctrl-C or a kill of our group spares it
    except OSError:
        os.close(write_end)
        return lambda: None
    finally:
        os.close(read_end)
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        os.close(write_end)
        try:
            watchdog.wait(timeout=2)
        except subprocess.TimeoutExpired:
            watchdog.kill()

    return release


def _exit_event(proc: subprocess.Popen[bytes]) -> threading.Event:
    """An event set the moment `proc` exits. `Popen.wait(timeout=...)` polls with sleeps that grow to 50 ms,
    so a test run looked up to 50 ms longer than it was; a blocking wait on a thread of its own is exact."""
    exited = threading.Event()

    def wait() -> None:
        try:
            proc.wait()
        finally:
            exited.set()

    threading.Thread(target=wait, name=f"micro-agent-wait-{proc.pid}", daemon=True).start()
    return exited


def _interrupt_group(proc: subprocess.Popen[bytes], exited: threading.Event,
                     cancel: threading.Event | None) -> None:
    """SIGINT the group, so a test runner can print where it was, then SIGKILL what is still running."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except (ProcessLookupError, PermissionError, AttributeError):
        pass
    try:
        ends = time.monotonic() + TIMEOUT_GRACE_S
        while time.monotonic() < ends and not (cancel is not None and cancel.is_set()):
            if exited.wait(POLL_S):
                break
    finally:
        _kill_group(proc)


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
