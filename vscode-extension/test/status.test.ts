import * as assert from "node:assert/strict";
import { describeRun, formatCost, initialStatus, renderStatusBar, renderStatusReport, RunFinished, StatusState } from "../src/status";

const ready: StatusState = { server: "ready", running: new Map() };
const solved: RunFinished = {
  runId: "r1",
  uri: "file:///proj/src/calc%20ops.py",
  outcome: "success",
  outcomeLabel: "solved",
  iterations: 2,
  costUsd: 0.0123,
  solvedByTier: "simple",
};

describe("formatCost", () => {
  it("keeps small costs readable and big ones short", () => {
    assert.equal(formatCost(0), "$0");
    assert.equal(formatCost(0.00042), "$0.0004");
    assert.equal(formatCost(0.4567), "$0.46");
    assert.equal(formatCost(undefined), "$—");
  });
});

describe("status bar", () => {
  it("spins while the server starts", () => {
    assert.equal(renderStatusBar(initialStatus).text, "$(loading~spin) Micro Agent");
  });

  it("is red with the install hint when the server is missing", () => {
    const view = renderStatusBar({ ...ready, server: "missing", serverDetail: "Install it with `pip install micro-agent`" });
    assert.equal(view.text, "$(error) Micro Agent");
    assert.match(view.tooltip, /pip install micro-agent/);
    assert.equal(view.background, "statusBarItem.errorBackground");
  });

  it("shows the latest progress line of a run in progress, and how many others run", () => {
    const running = new Map([
      ["t1", { title: "Micro Agent: fixing a.py", message: "simple 1/5 · artisan · $0.00" }],
      ["t2", { title: "Micro Agent: fixing b.py", message: "full 2/3 · critic · $0.0100 and a long tail that gets cut off here" }],
    ]);
    const view = renderStatusBar({ ...ready, running });
    assert.equal(view.text, "$(sync~spin) Micro Agent: full 2/3 · critic · $0.0100 and a long tail tha… (+1)");
    assert.match(view.tooltip, /Micro Agent: fixing a\.py — simple 1\/5 · artisan · \$0\.00/);
  });

  it("shows the last run's cost and outcome when idle", () => {
    const view = renderStatusBar({ ...ready, lastRun: solved });
    assert.equal(view.text, "$(check) Micro Agent $0.01");
    assert.match(view.tooltip, /calc ops\.py: solved by simple after 2 iterations, \$0\.01/);
    const failed = renderStatusBar({ ...ready, lastRun: { ...solved, outcome: "budget_exhausted", outcomeLabel: "budget exhausted", iterations: 1 } });
    assert.equal(failed.text, "$(warning) Micro Agent $0.01");
    assert.match(failed.tooltip, /budget exhausted after 1 iteration,/);
  });

  it("says the server stopped, with a way out", () => {
    const view = renderStatusBar({ ...ready, server: "stopped" });
    assert.equal(view.background, "statusBarItem.warningBackground");
    assert.match(view.tooltip, /Restart Language Server/);
  });
});

describe("describeRun", () => {
  it("names the tier only for a solved run", () => {
    assert.equal(describeRun({ ...solved, outcome: "interrupted", outcomeLabel: "cancelled", solvedByTier: null }), "calc ops.py: cancelled after 2 iterations, $0.01");
  });

  it("says the server's label, and an older server's bare outcome word readably", () => {
    const notApplied = { ...solved, outcome: "solved_not_applied", outcomeLabel: "solved, not applied", solvedByTier: null };
    assert.equal(describeRun(notApplied), "calc ops.py: solved, not applied after 2 iterations, $0.01");
    assert.equal(describeRun({ ...solved, outcome: "budget_exhausted", outcomeLabel: undefined }), "calc ops.py: budget exhausted after 2 iterations, $0.01");
  });
});

describe("Show Run Status rows", () => {
  // the shapes the server answers microAgent.status with (server/micro_agent_lsp/runs.py)
  const running = {
    runId: "r2", uri: "file:///p/b.py", target: "b.py", tier: "full", tierIndex: 1, mode: "full", iteration: 2,
    maxIterations: 3, totalIterations: 7, costUsd: 0.02, phase: "critic (gpt-4.1-mini)", failingTests: 1, elapsedS: 30.5,
  };
  const lastFinished = {
    runId: "r1", uri: "file:///p/a.py", target: "a.py", outcome: "success", outcomeLabel: "solved", iterations: 1, costUsd: 0,
    solvedByTier: "simple", message: "", ref: "refs/micro-agent/r1",
  };

  it("lists runs in progress first, then the last finished one", () => {
    assert.deepEqual(renderStatusReport({ running: [running], lastFinished }), [
      { label: "$(sync~spin) b.py", description: "running", detail: "full · iteration 2/3 · critic (gpt-4.1-mini) · $0.02", uri: "file:///p/b.py" },
      { label: "$(check) a.py", description: "last run: solved", detail: "by simple · 1 iteration · $0", uri: "file:///p/a.py" },
    ]);
  });

  it("names a tier file's tier with its mode, and a failed run's reason", () => {
    const [tierRow, failedRow] = renderStatusReport({
      running: [{ ...running, tier: "local", mode: "simple" }],
      lastFinished: { ...lastFinished, outcome: "budget_exhausted", outcomeLabel: "budget exhausted", iterations: 4, costUsd: 0.5, message: "spent $0.50 of $0.50" },
    });
    assert.equal(tierRow.detail, "local (simple) · iteration 2/3 · critic (gpt-4.1-mini) · $0.02");
    assert.equal(failedRow.label, "$(history) a.py");
    assert.equal(failedRow.description, "last run: budget exhausted");
    assert.equal(failedRow.detail, "4 iterations · $0.50 · spent $0.50 of $0.50");
  });

  it("says so when there is nothing to show or the answer is not understood", () => {
    assert.deepEqual(renderStatusReport({ running: [], lastFinished: null }), [{ label: "No Micro Agent runs yet in this session." }]);
    assert.deepEqual(renderStatusReport(null), [{ label: "No status from the server." }]);
  });
});
