/**
 * The launch ladder: which command starts the language server.
 *
 * 1. the `microAgent.server.command` setting, used as given;
 * 2. the Python extension's active interpreter, when it can import `micro_agent_lsp`;
 * 3. `micro-agent` found on PATH.
 *
 * Pure: the caller gathers the facts (setting, interpreter, PATH lookup) and this module decides.
 */

import * as path from "node:path";

/** Where the chosen command came from; logged and shown in the status tooltip. */
export type LaunchSource = "setting" | "python-extension" | "path";

/** What the Python extension told us about its active interpreter. */
export interface PythonInterpreter {
  /** How to run the interpreter, e.g. `["/venv/bin/python"]` or `["conda", "run", "-n", "x", "python"]`. */
  readonly command: readonly string[];
  /** Whether `import micro_agent_lsp` works with it (probed by the caller). */
  readonly hasServer: boolean;
}

export interface LaunchFacts {
  /** The `microAgent.server.command` setting (empty when unset). */
  readonly configuredCommand: readonly string[];
  /** The Python extension's interpreter, or undefined when that extension is absent or has none. */
  readonly interpreter?: PythonInterpreter;
  /** Finds an executable on PATH: its absolute path, or undefined. */
  readonly which: (name: string) => string | undefined;
  /** Whether a file path names an executable file (checks the setting's command). */
  readonly isExecutable: (file: string) => boolean;
}

export type LaunchPlan =
  | { readonly ok: true; readonly command: string; readonly args: readonly string[]; readonly source: LaunchSource }
  | { readonly ok: false; readonly reason: string };

export const SERVER_EXECUTABLE = "micro-agent";
export const SERVER_MODULE = "micro_agent_lsp";
export const INSTALL_HINT = "pip install micro-agent";

/** Decide how to start the server, or say why it cannot be found. */
export function resolveLaunch(facts: LaunchFacts): LaunchPlan {
  const configured = facts.configuredCommand.filter((part) => part.trim() !== "");
  if (configured.length > 0) {
    const [command, ...args] = configured;
    const isPath = /[\\/]/.test(command);
    if (isPath ? !facts.isExecutable(command) : !facts.which(command)) {
      return {
        ok: false,
        reason: `\`${command}\` from the setting \`microAgent.server.command\` ${isPath ? "is not an executable file" : "is not on PATH"}. Fix the setting, or clear it to use \`micro-agent\` from PATH (install it with \`${INSTALL_HINT}\`).`,
      };
    }
    return { ok: true, command, args, source: "setting" };
  }
  const interpreter = facts.interpreter;
  if (interpreter && interpreter.hasServer && interpreter.command.length > 0) {
    const [command, ...prefix] = interpreter.command;
    return { ok: true, command, args: [...prefix, "-m", SERVER_MODULE], source: "python-extension" };
  }
  const onPath = facts.which(SERVER_EXECUTABLE);
  if (onPath) {
    return { ok: true, command: onPath, args: ["lsp"], source: "path" };
  }
  const looked = interpreter
    ? `\`${SERVER_EXECUTABLE}\` is not on PATH and the selected Python interpreter (${interpreter.command.join(" ")}) cannot import ${SERVER_MODULE}`
    : `\`${SERVER_EXECUTABLE}\` is not on PATH and no Python interpreter was selected`;
  return {
    ok: false,
    reason: `Micro Agent's language server was not found: ${looked}. Install it with \`${INSTALL_HINT}\` or set \`microAgent.server.command\`.`,
  };
}

/** One line for the output channel: the exact command, quoted where needed. */
export function describeLaunch(plan: LaunchPlan): string {
  if (!plan.ok) return plan.reason;
  const words = [plan.command, ...plan.args].map((w) => (/[\s"']/.test(w) ? JSON.stringify(w) : w));
  return `Starting the language server (${plan.source}): ${words.join(" ")}`;
}

/**
 * The command that lists the audit log's runs (`micro-agent audit runs`), derived from the server's
 * launch command so that it uses the same installation.
 */
export function auditCommandFor(plan: LaunchPlan): string[] | undefined {
  if (!plan.ok) return undefined;
  const args = [...plan.args];
  const moduleAt = args.findIndex((a, i) => a === "-m" && args[i + 1] === SERVER_MODULE);
  if (moduleAt >= 0) {
    const prefix = args.slice(0, moduleAt);
    const cli = "import sys; from micro_agent.cli import main; sys.exit(main())";
    return [plan.command, ...prefix, "-c", cli, "audit", "runs"];
  }
  if (args[args.length - 1] === "lsp") {
    return [plan.command, ...args.slice(0, -1), "audit", "runs"];
  }
  return undefined;
}

/** Windows looks up these extensions; elsewhere the name is used as is. */
function candidateNames(name: string, platform: NodeJS.Platform, pathExt: string | undefined): string[] {
  if (platform !== "win32") return [name];
  const exts = (pathExt ?? ".EXE;.CMD;.BAT").split(";").filter(Boolean);
  return [name, ...exts.map((e) => name + e.toLowerCase())];
}

/**
 * `which`: the first executable named `name` in the PATH string. `isExecutable` is the only I/O,
 * so tests can pass a real filesystem check or a set of paths.
 */
export function findOnPath(
  name: string,
  env: { PATH?: string; Path?: string; PATHEXT?: string },
  isExecutable: (file: string) => boolean,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const searchPath = env.PATH ?? env.Path ?? "";
  const delimiter = platform === "win32" ? ";" : ":";
  const join = platform === "win32" ? path.win32.join : path.posix.join;
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    for (const candidate of candidateNames(name, platform, env.PATHEXT)) {
      const file = join(dir, candidate);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}
