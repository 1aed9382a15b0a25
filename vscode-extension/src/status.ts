/**
 * What the status bar item and "Show Run Status" display, computed from plain state.
 * Pure: extension.ts feeds it server events and copies the result onto the VS Code objects.
 */

export type ServerState = "starting" | "ready" | "missing" | "stopped";

export type Outcome = "success" | "solved_not_applied" | "failed" | "budget_exhausted" | "interrupted" | "error";

/** The `microAgent/runFinished` notification (DESIGN.md §3). */
export interface RunFinished {
  runId: string;
  uri: string;
  outcome: Outcome | string;
  /** How the outcome is said ("not solved", "budget exhausted"): the server's one table (outcomes.py). */
  outcomeLabel?: string;
  iterations: number;
  costUsd: number;
  solvedByTier?: string | null;
}

export interface StatusState {
  readonly server: ServerState;
  /** Why the server is missing or stopped, for the tooltip. */
  readonly serverDetail?: string;
  /** Runs in progress, by progress token: their latest progress line. */
  readonly running: ReadonlyMap<string, { title: string; message?: string }>;
  readonly lastRun?: RunFinished;
}

export interface StatusBarView {
  text: string;
  tooltip: string;
  /** A ThemeColor id for the background, or undefined for the default. */
  background?: "statusBarItem.errorBackground" | "statusBarItem.warningBackground";
}

export const initialStatus: StatusState = { server: "starting", running: new Map() };

export function formatCost(usd: number | undefined | null): string {
  if (usd === undefined || usd === null || !Number.isFinite(usd)) return "$—";
  if (usd === 0) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

/** The label the server sent with the outcome (`outcomeLabel`); an older server's bare word as it is. */
export function describeOutcome(outcome: string, label?: string | null): string {
  return label || outcome.replace(/_/g, " ");
}

/** The file's base name from a URI or path, for short labels. */
export function fileName(uri: string): string {
  const clean = uri.replace(/[?#].*$/, "");
  return decodeURIComponent(clean.slice(clean.lastIndexOf("/") + 1));
}

/** One sentence about a finished run. */
export function describeRun(run: RunFinished): string {
  const iterations = `${run.iterations} iteration${run.iterations === 1 ? "" : "s"}`;
  const tier = run.outcome === "success" && run.solvedByTier ? ` by ${run.solvedByTier}` : "";
  return `${fileName(run.uri)}: ${describeOutcome(run.outcome, run.outcomeLabel)}${tier} after ${iterations}, ${formatCost(run.costUsd)}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

export function renderStatusBar(state: StatusState): StatusBarView {
  if (state.server === "missing") {
    return {
      text: "$(error) Micro Agent",
      tooltip: state.serverDetail ?? "The Micro Agent language server was not found.",
      background: "statusBarItem.errorBackground",
    };
  }
  if (state.server === "stopped") {
    return {
      text: "$(debug-disconnect) Micro Agent",
      tooltip: state.serverDetail ?? "The Micro Agent language server stopped. Run \"Micro Agent: Restart Language Server\".",
      background: "statusBarItem.warningBackground",
    };
  }
  if (state.server === "starting") {
    return { text: "$(loading~spin) Micro Agent", tooltip: "Micro Agent: starting the language server…" };
  }
  const runs = [...state.running.values()];
  if (runs.length > 0) {
    const latest = runs[runs.length - 1];
    const line = latest.message ? truncate(latest.message, 48) : "working…";
    const more = runs.length > 1 ? ` (+${runs.length - 1})` : "";
    return {
      text: `$(sync~spin) Micro Agent: ${line}${more}`,
      tooltip: [...runs.map((r) => `${r.title}${r.message ? ` — ${r.message}` : ""}`), "", "Click for run status."].join("\n"),
    };
  }
  if (state.lastRun) {
    const icon = state.lastRun.outcome === "success" ? "$(check)" : "$(warning)";
    return {
      text: `${icon} Micro Agent ${formatCost(state.lastRun.costUsd)}`,
      tooltip: `Last run — ${describeRun(state.lastRun)}\nClick for run status.`,
    };
  }
  return { text: "$(beaker) Micro Agent", tooltip: "Micro Agent is ready: use the lightbulb on a failing test, or \"Micro Agent: Fix This File\"." };
}

// ---------------------------------------------------------------------------------------------
// "Show Run Status": the answer of `microAgent.status`, as quick-pick rows.

export interface StatusRow {
  label: string;
  description?: string;
  detail?: string;
  /** The file to open when the row is picked. */
  uri?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

function pick<T>(obj: Json, keys: string[], test: (v: unknown) => v is T): T | undefined {
  for (const key of keys) if (test(obj[key])) return obj[key] as T;
  return undefined;
}
const isString = (v: unknown): v is string => typeof v === "string" && v !== "";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A run in progress (`ActiveRun.status()` on the server). */
function runningRow(run: Json): StatusRow {
  const uri = pick(run, ["uri", "target"], isString);
  const tier = pick(run, ["tier"], isString);
  const mode = pick(run, ["mode"], isString);
  const iteration = pick(run, ["iteration"], isNumber);
  const maxIterations = pick(run, ["maxIterations"], isNumber);
  const phase = pick(run, ["phase"], isString);
  const parts: string[] = [];
  if (tier) parts.push(mode && mode !== tier ? `${tier} (${mode})` : tier);
  if (iteration) parts.push(`iteration ${iteration}${maxIterations ? `/${maxIterations}` : ""}`);
  if (phase) parts.push(phase);
  parts.push(formatCost(pick(run, ["costUsd"], isNumber)));
  return {
    label: `$(sync~spin) ${uri ? fileName(uri) : "run"}`,
    description: "running",
    detail: parts.join(" · "),
    uri,
  };
}

/** A finished run (the `microAgent/runFinished` payload). */
function finishedRow(run: Json): StatusRow {
  const uri = pick(run, ["uri", "target"], isString);
  const outcome = pick(run, ["outcome"], isString) ?? "finished";
  const iterations = pick(run, ["iterations"], isNumber) ?? 0;
  const tier = pick(run, ["solvedByTier"], isString);
  const message = pick(run, ["message"], isString);
  const parts = [`${iterations} iteration${iterations === 1 ? "" : "s"}`, formatCost(pick(run, ["costUsd"], isNumber))];
  if (outcome === "success" && tier) parts.unshift(`by ${tier}`);
  if (message) parts.push(message);
  return {
    label: `${outcome === "success" ? "$(check)" : "$(history)"} ${uri ? fileName(uri) : "run"}`,
    description: `last run: ${describeOutcome(outcome, pick(run, ["outcomeLabel"], isString))}`,
    detail: parts.join(" · "),
    uri,
  };
}

function listOf(value: unknown): Json[] {
  if (Array.isArray(value)) return value.filter(isObject);
  if (isObject(value)) return [value];
  return [];
}

/**
 * Rows for the `microAgent.status` answer `{running: [...], lastFinished: {...} | null}`:
 * runs in progress first, then the last finished run.
 */
export function renderStatusReport(reply: unknown): StatusRow[] {
  if (!isObject(reply)) return [{ label: "No status from the server." }];
  const rows = [...listOf(reply.running).map(runningRow), ...listOf(reply.lastFinished).map(finishedRow)];
  return rows.length > 0 ? rows : [{ label: "No Micro Agent runs yet in this session." }];
}
