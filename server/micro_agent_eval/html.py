"""index.html: the report people look at. Charts are matplotlib SVGs inlined in the page: no network at view time.

matplotlib is the optional extra `micro-agent[eval]`; without it the page has the tables and says how to get charts.
"""

from __future__ import annotations

import html
import io

from .report import EvalReport

CHARTS_MISSING = "matplotlib is not installed: pip install 'micro-agent[eval]' for charts."


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _usd(value: float | None) -> str:
    return "–" if value is None else f"${value:.4f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def charts(report: EvalReport) -> list[tuple[str, str]]:
    """(title, inline SVG) per chart; [] when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = [s.config for s in report.summaries]
    out = []

    def svg(fig) -> str:
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        text = buffer.getvalue()
        return text[text.index("<svg"):]

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    rates = [(s.solve_rate or 0) * 100 for s in report.summaries]
    bars = ax.bar(names, rates, color="#2f7d4f")
    ax.bar_label(bars, labels=[f"{r:.0f}%" for r in rates])
    ax.set_ylim(0, 110)
    ax.set_ylabel("tasks solved (%)")
    ax.set_title("Solve rate per configuration")
    out.append(("Solve rate", svg(fig)))

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    costs = [s.cost_per_solved_usd or 0 for s in report.summaries]
    bars = ax.bar(names, costs, color="#3b6ea8")
    ax.bar_label(bars, labels=[_usd(s.cost_per_solved_usd) for s in report.summaries])
    ax.set_ylabel("USD per solved task")
    ax.set_title("Cost per solved task")
    ax.margins(y=0.2)
    out.append(("Cost per solved task", svg(fig)))

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    markers = "osD^v<>p*"
    for i, name in enumerate(names):
        mine = [r for r in report.results if r.config == name]
        xs = [r.cost_usd for r in mine]
        ys = [1 if r.solved else 0 for r in mine]
        jitter = [(i - (len(names) - 1) / 2) * 0.06 for _ in mine]
        ax.scatter(xs, [y + j for y, j in zip(ys, jitter)], label=name, marker=markers[i % len(markers)], alpha=0.8)
    ax.set_yticks([0, 1], ["not solved", "solved"])
    ax.set_ylim(-0.5, 1.5)
    ax.set_xlabel("cost of the task (USD)")
    ax.set_title("Cost vs solved, per task")
    if names:
        ax.legend(loc="center right", fontsize="small")
    out.append(("Cost vs solved, per task", svg(fig)))
    return out


def render(report: EvalReport) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(s.config)}</td><td>{s.solved}/{s.tasks}</td><td>{_pct(s.solve_rate)}</td>"
        f"<td>{_usd(s.total_cost_usd)}</td><td>{_usd(s.cost_per_solved_usd)}</td><td>{_num(s.mean_iterations)}</td>"
        f"<td>{_num(s.mean_model_calls)}</td><td>{_num(s.mean_wall_s, 1)} s</td>"
        f"<td>{esc(', '.join(f'{k}: {v}' for k, v in s.solved_by_tier.items()) or '–')}</td></tr>"
        for s in report.summaries)
    versus = "".join(
        f"<tr><td>{esc(v.config)} vs {esc(v.other)}</td><td>{v.tasks_compared}</td><td>{_pct(v.cost_le_share)}</td>"
        f"<td>{'–' if v.solve_rate_lift is None else f'{v.solve_rate_lift * 100:+.0f} points'}</td></tr>"
        for v in report.versus)
    tasks = "".join(
        f"<tr class='{'ok' if r.solved else 'bad'}'><td>{esc(r.task)}</td><td>{esc(r.config)}</td>"
        f"<td>{'✓' if r.solved else '✗'} {esc(r.status)}</td><td>{r.iterations}</td><td>{r.model_calls}</td>"
        f"<td>{_usd(r.cost_usd)}</td><td>{esc(r.solved_by_tier or '–')}</td><td>{r.wall_s:.1f} s</td>"
        f"<td>{esc(r.message)}</td></tr>"
        for r in report.results)
    figures = charts(report)
    chart_html = "".join(f"<figure><figcaption>{esc(t)}</figcaption>{svg}</figure>" for t, svg in figures)
    if not figures:
        chart_html = f"<p class='note'>{esc(CHARTS_MISSING)}</p>"
    note = ""
    if report.interrupted or report.not_run:
        note = (f"<p class='note'>{'Interrupted: ' if report.interrupted else ''}{len(report.not_run)} task runs did not "
                "finish (stopped or out of budget) and are left out of every figure.</p>")
    cap = f" of ${report.budget_cap_usd:.2f}" if report.budget_cap_usd is not None else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>micro-agent eval: {esc(report.suite)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2430; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} .meta {{ color: #5b6472; margin-bottom: 16px; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; }}
th, td {{ border-bottom: 1px solid #dde1e6; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f3f5f7; }} tr.ok td:nth-child(3) {{ color: #2f7d4f; }} tr.bad td:nth-child(3) {{ color: #b3261e; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }} figure {{ margin: 0; }}
figcaption {{ font-weight: 600; }} figure svg {{ max-width: 560px; height: auto; }}
.note {{ background: #fff6db; padding: 6px 10px; border-radius: 4px; }}
</style></head><body>
<h1>micro-agent eval: {esc(report.suite)}</h1>
<div class="meta">{esc(report.started_at.strftime('%Y-%m-%d %H:%M UTC'))} · {len(report.configs)} configuration(s) ·
spent {_usd(report.spent_usd)}{cap}</div>
{note}
<h2>Configurations</h2>
<table><tr><th>configuration</th><th>solved</th><th>solve rate</th><th>cost</th><th>cost per solved</th>
<th>mean iterations</th><th>mean model calls</th><th>mean wall time</th><th>solved by tier</th></tr>{rows}</table>
{f'<h2>Compared with {esc(report.versus[0].config)}</h2><table><tr><th>pair</th><th>tasks</th><th>cost ≤ other</th><th>solve-rate lift</th></tr>{versus}</table>' if versus else ''}
<div class="charts">{chart_html}</div>
<h2>Tasks</h2>
<table><tr><th>task</th><th>configuration</th><th>result</th><th>iterations</th><th>model calls</th><th>cost</th>
<th>solved by</th><th>wall</th><th>message</th></tr>{tasks}</table>
</body></html>
"""
