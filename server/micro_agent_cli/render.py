"""The CLI's observer: renders engine events with rich — a live line per phase, a final table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from micro_agent.events import (AgentCalled, AgentCalling, Escalated, Event, IterationFinished, IterationStarted,
                                RunStarted, TestsFinished, TierStarted, Warned)
from micro_agent.outcomes import OUTCOMES
from micro_agent.reports import RunReport
from micro_agent.secrets import redact_value

if TYPE_CHECKING:
    from rich.status import Status  # the live line: imported by `console.status()` at the run's first event
    from rich.table import Table  # imported when the final table is drawn, not before the first test run

OUTCOME_STYLE = {word: f"bold {info.colour}" for word, info in OUTCOMES.items()}
STATUS_MARK = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "error": "[red]![/]"}


class Renderer:
    """Call it with each event. `verbose` adds prompt sizes and test output."""

    def __init__(self, console: Console, verbose: bool = False):
        self.console = console
        self.verbose = verbose
        self.status: Status | None = None
        self.phase = ""  # e.g. "simple 2/5"
        self.cost = 0.0

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler:
            handler(redact_value(event))  # test output, errors and reasons are shown redacted

    def _live(self, text: str) -> None:
        if not self.console.is_terminal:  # a pipe or a file shows no live line: no spinner thread, no rich.live
            return
        line = f"{self.phase} · {text} · ${self.cost:.4f}" if self.phase else text
        if self.status is None:
            self.status = self.console.status(escape(line))
            self.status.start()
        else:
            self.status.update(escape(line))

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def on_run_started(self, e: RunStarted) -> None:
        chain = " → ".join(f"{t.name} ×{t.max_iterations}" for t in e.tiers)
        self.console.print(f"[bold]Micro Agent[/] fixing [cyan]{escape(e.target)}[/] · tests: "
                           f"[dim]{escape(e.test_command)}[/] · chain: {escape(chain)}")
        if e.environment:
            self.console.print(f"Environment: [dim]{escape(e.environment)}[/]")
        if e.start_note:
            self.console.print(f"[cyan]{escape(e.start_note)}[/]")
        self._live("running the tests on your code")

    def on_tests_finished(self, e: TestsFinished) -> None:
        r = e.report
        if e.iteration == 0:
            what = "pass" if r.passed else (f"{len(r.failures)} failing" if r.failures else "fail")
            self.console.print(f"Initial tests: {what} ({r.duration_s:.2f} s)")
        if self.verbose and r.output.strip():
            self.console.print(f"[dim]--- test output ({escape(r.command)}) ---[/]")
            self.console.print(escape(r.output.rstrip()[-4000:]), highlight=False)

    def on_tier_started(self, e: TierStarted) -> None:
        models = ", ".join(f"{role} {model}" for role, model in e.tier.models.items())
        self.console.print(f"[bold]▶ {escape(e.tier.name)}[/] ({e.tier.mode} mode, up to "
                           f"{e.tier.max_iterations} iterations; {escape(models)})")

    def on_iteration_started(self, e: IterationStarted) -> None:
        self.phase = f"{e.tier_name} {e.iteration}/{e.max_iterations}"
        self.cost = e.cost_so_far_usd
        self._live("starting")

    def on_agent_calling(self, e: AgentCalling) -> None:
        self._live(f"{e.role} ({e.model})")
        if self.verbose:
            self.console.print(f"  [dim]{e.role} → {escape(e.model)}: prompt {e.prompt_chars:,} chars[/]")

    def on_agent_called(self, e: AgentCalled) -> None:
        self.cost = e.total_cost_usd
        if e.error:
            self.console.print(f"  [red]{escape(e.error)}[/]")
        elif self.verbose:
            self.console.print(f"  [dim]{e.role} ← reply {e.reply_chars:,} chars, {e.duration_ms} ms, "
                               f"${e.cost_usd:.4f}[/]")
        self._live("running tests" if e.role in ("artisan", "critic") else "waiting")

    def on_iteration_finished(self, e: IterationFinished) -> None:
        detail = escape(e.change_summary)
        if e.test_status != "passed" and e.error_messages:
            detail += f" — [red]{escape(e.error_messages[0][:160])}[/]"
        self.console.print(f"{STATUS_MARK[e.test_status]} {escape(self.phase)}  {detail}  "
                           f"[dim]${e.cost_usd:.4f} {e.duration_ms / 1000:.1f}s[/]")

    def on_escalated(self, e: Escalated) -> None:
        self.console.print(f"[yellow]↑ escalating from {escape(e.from_tier)} to {escape(e.to_tier)}[/] "
                           f"({escape(e.reason)})")

    def on_warned(self, e: Warned) -> None:
        self.console.print(f"[yellow]warning:[/] {escape(e.message)}")

    def on_run_finished(self, e) -> None:
        self.stop()


def final_table(report: RunReport) -> Table:
    """Modes/tiers run, iterations and cost per tier, the total, the outcome."""
    from rich.table import Table

    table = Table(title=f"Run {report.run_id[:8]}", title_justify="left")
    for column, justify in (("tier", "left"), ("mode", "left"), ("models", "left"), ("iterations", "right"),
                            ("cost", "right"), ("result", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for tier in report.tiers:
        if not tier.iterations and not tier.solved:
            result = "not run"
        else:
            result = "[green]solved[/]" if tier.solved else "failed"
        models = ", ".join(dict.fromkeys(tier.models.values()))  # librarian, artisan, critic; each model once
        table.add_row(escape(tier.name), tier.mode, escape(models), f"{tier.iterations}/{tier.max_iterations}",
                      f"${tier.cost_usd:.4f}", result)
    table.add_section()
    style = OUTCOME_STYLE[report.outcome]
    table.add_row("total", "", "", str(report.total_iterations), f"${report.total_cost_usd:.4f}",
                  f"[{style}]{report.outcome}[/]")
    return table
