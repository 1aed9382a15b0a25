/**
 * The `microAgent.*` settings, read once into plain data, and the shape the server receives:
 * `initializationOptions.microAgent` at start and the answer to `workspace/configuration`
 * (section `microAgent`) afterwards. Unset values are left out so that the project's
 * `micro-agent.yml` and the server's defaults apply; values are not validated here — the server
 * names the bad ones in one message.
 */

export const SECTION = "microAgent";

export interface Models {
  artisan?: string;
  librarian?: string;
  critic?: string;
}

export interface Budget {
  maxCostUsd?: number;
  maxDurationMinutes?: number;
  maxIterations?: number;
}

/** What the language server receives (DESIGN.md §3, issue 4). */
export interface ServerSettings {
  models?: Models;
  budget?: Budget;
  tierConfig?: string;
  testCommand?: string;
  runTestsOnSave?: boolean;
  /** The project's Python (`…/bin/python` or a venv folder): the tests run with its `bin/` first on PATH. */
  interpreter?: string;
  /** false: the tests run with PATH as it is, not in the project's environment. */
  projectEnv?: boolean;
}

/** Everything the extension reads from the `microAgent` section. */
export interface ExtensionSettings {
  readonly server: ServerSettings;
  readonly serverCommand: string[];
}

/** Reads one setting by its key under `microAgent` (e.g. `"models.artisan"`). */
export type SettingReader = (key: string) => unknown;

/** Values for `${workspaceFolder}`, `${userHome}` and a leading `~`. */
export interface Variables {
  readonly workspaceFolder?: string;
  readonly userHome?: string;
}

export function substituteVariables(value: string, vars: Variables): string {
  let out = value;
  if (vars.userHome !== undefined) {
    out = out.replace(/^~(?=$|[\\/])/, vars.userHome).replace(/\$\{userHome\}/g, vars.userHome);
  }
  if (vars.workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, vars.workspaceFolder);
  }
  return out;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function numeric(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** Drop the keys whose value is undefined; undefined when nothing is left. */
function compact<T extends object>(record: T): T | undefined {
  const entries = Object.entries(record).filter(([, v]) => v !== undefined);
  return entries.length > 0 ? (Object.fromEntries(entries) as T) : undefined;
}

export function readSettings(get: SettingReader, vars: Variables = {}): ExtensionSettings {
  const path = (key: string) => {
    const value = text(get(key));
    return value === undefined ? undefined : substituteVariables(value, vars);
  };
  const runTestsOnSave = get("runTestsOnSave");
  const projectEnv = get("projectEnv");
  const server: ServerSettings = {
    models: compact<Models>({
      artisan: text(get("models.artisan")),
      librarian: text(get("models.librarian")),
      critic: text(get("models.critic")),
    }),
    budget: compact<Budget>({
      maxCostUsd: numeric(get("budget.maxCostUsd")),
      maxDurationMinutes: numeric(get("budget.maxDurationMinutes")),
      maxIterations: numeric(get("budget.maxIterations")),
    }),
    tierConfig: path("tierConfig"),
    testCommand: text(get("testCommand")),
    runTestsOnSave: typeof runTestsOnSave === "boolean" ? runTestsOnSave : undefined,
    interpreter: path("interpreter"),
    projectEnv: typeof projectEnv === "boolean" ? projectEnv : undefined,
  };
  const rawCommand = get("server.command");
  const serverCommand = Array.isArray(rawCommand)
    ? rawCommand.filter((p): p is string => typeof p === "string" && p !== "").map((p) => substituteVariables(p, vars))
    : typeof rawCommand === "string" && rawCommand.trim() !== ""
      ? [substituteVariables(rawCommand.trim(), vars)]
      : [];
  return { server: compact(server) ?? {}, serverCommand };
}

/**
 * The settings with the Python extension's selected interpreter as `interpreter`, unless the user set
 * `microAgent.interpreter`. Only a plain executable is passed (not `conda run …`), and only in a
 * single-folder window: one server serves every folder, and a selection belongs to one folder (in a
 * multi-root window the server finds each project's own `.venv`).
 */
export function withSelectedInterpreter(
  settings: ExtensionSettings,
  selected: readonly string[] | undefined,
  folderCount: number,
): ExtensionSettings {
  if (settings.server.interpreter || !selected || selected.length !== 1 || folderCount > 1) return settings;
  return { ...settings, server: { ...settings.server, interpreter: selected[0] } };
}

/** `initializationOptions` for the language client. */
export function initializationOptions(settings: ExtensionSettings): { microAgent: ServerSettings } {
  return { [SECTION]: settings.server } as { microAgent: ServerSettings };
}

/** A `workspace/configuration` item as the server sends it. */
export interface ConfigurationItem {
  readonly section?: string;
  readonly scopeUri?: string;
}

/**
 * Answers the `microAgent` items of a `workspace/configuration` request from our settings;
 * `undefined` marks items that belong to other sections (the client answers those itself).
 * `microAgent.models` and similar sub-sections get the matching part.
 */
export function answerConfiguration(
  items: readonly ConfigurationItem[],
  settingsFor: (scopeUri: string | undefined) => ExtensionSettings,
): (unknown | undefined)[] {
  return items.map((item) => {
    const section = item.section ?? "";
    if (section !== SECTION && !section.startsWith(SECTION + ".")) return undefined;
    let value: unknown = settingsFor(item.scopeUri).server;
    for (const key of section.split(".").slice(1)) {
      value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    }
    return value ?? null;
  });
}
