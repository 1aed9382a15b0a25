import { describe, expect, it } from "vitest";
import { describeRun, formatCost, initialStatus, renderStatusBar, renderStatusReport, RunFinished, StatusState } from "../src/status";

const ready: StatusState = { server: "ready", running: new Map() };
const solved: RunFinished = {
  runId: "r1",
  uri: "file:///proj/src/calc%20ops.py",
  outcome: "success",
  iterations: 2,
  costUsd: 0.0123,
  solvedByTier: "simple",
};

describe("formatCost", () => {
  it("keeps small costs readable and big ones short", () => {
    expect(formatCost(0)).toBe("$0");
    expect(formatCost(0.00042)).toBe("$0.0004");
    expect(formatCost(0.4567)).toBe("$0.46");
    expect(formatCost(undefined)).toBe("$—");
  });
});

describe("status bar", () => {
  it("spins while the server starts", () => {
    expect(renderStatusBar(initialStatus).text).toBe("$(loading~spin) Micro Agent");
  });

  it("is red with the install hint when the server is missing", () => {
    const view = renderStatusBar({ ...ready, server: "missing", serverDetail: "Install it with `pip install micro-agent`" });
    expect(view.text).toBe("$(error) Micro Agent");
    expect(view.tooltip).toContain("pip install micro-agent");
    expect(view.background).toBe("statusBarItem.errorBackground");
  });

  it("shows the latest progress line of a run in progress, and how many others run", () => {
    const running = new Map([
      ["t1", { title: "Micro Agent: fixing a.py", message: "simple 1/5 · artisan · $0.00" }],
      ["t2", { title: "Micro Agent: fixing b.py", message: "full 2/3 · critic · $0.0100 and a long tail that gets cut off here" }],
    ]);
    const view = renderStatusBar({ ...ready, running });
    expect(view.text.startsWith("$(sync~spin) Micro Agent: full 2/3 · critic")).toBe(true);
    expect(view.text.endsWith("… (+1)")).toBe(true);
    expect(view.tooltip).toContain("Micro Agent: fixing a.py — simple 1/5 · artisan · $0.00");
  });

  it("shows the last run's cost and outcome when idle", () => {
    const view = renderStatusBar({ ...ready, lastRun: solved });
    expect(view.text).toBe("$(check) Micro Agent $0.01");
    expect(view.tooltip).toContain("calc ops.py: solved by simple after 2 iterations, $0.01");
    const failed = renderStatusBar({ ...ready, lastRun: { ...solved, outcome: "budget_exhausted", iterations: 1 } });
    expect(failed.text).toBe("$(warning) Micro Agent $0.01");
    expect(failed.tooltip).toContain("budget exhausted after 1 iteration,");
  });
});

describe("describeRun", () => {
  it("names the tier only for a solved run", () => {
    expect(describeRun({ ...solved, outcome: "interrupted", solvedByTier: null })).toBe("calc ops.py: cancelled after 2 iterations, $0.01");
  });
});

describe("Show Run Status rows", () => {
  it("lists runs in progress first, then the last finished one", () => {
    const rows = renderStatusReport({
      running: [{ runId: "r2", uri: "file:///p/b.py", tier: "full", iteration: 2, maxIterations: 3, costUsd: 0.02, phase: "critic" }],
      last: { runId: "r1", uri: "file:///p/a.py", outcome: "success", iterations: 1, costUsd: 0, solvedByTier: "simple" },
    });
    expect(rows).toEqual([
      { label: "$(sync~spin) b.py", description: "running", detail: "full · iteration 2/3 · critic · $0.02", uri: "file:///p/b.py" },
      { label: "$(check) a.py", description: "solved", detail: "simple · iteration 1 · $0", uri: "file:///p/a.py" },
    ]);
  });

  it("says so when there is nothing to show or the answer is not understood", () => {
    expect(renderStatusReport({ running: [], last: null })).toEqual([{ label: "No Micro Agent runs yet in this session." }]);
    expect(renderStatusReport(null)).toEqual([{ label: "No status from the server." }]);
  });
});
