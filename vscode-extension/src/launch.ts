/**
 * The launch ladder: which command starts the language server.
 *
 * 1. the `microAgent.server.command` setting, used as given;
 * 2. the Python extension's active interpreter, when it can import `micro_agent_lsp`;
 * 3. the workspace folder's own venvs: `$UV_PROJECT_ENVIRONMENT`, `.venv/` (uv, Poetry's in-project
 *    setting, `python -m venv .venv`), `venv/`, `env/` — then `$VIRTUAL_ENV`;
 * 4. `micro-agent` found on PATH;
 * 5. `~/.local/bin/micro-agent` (pipx, `uv tool install`; VS Code started from a desktop launcher often
 *    has no `~/.local/bin` on PATH).
 *
 * Every step says what it tried (`tried`, logged by the caller); when nothing is found, the reason lists
 * them and says how to fix it. Pure: the caller gathers the facts and this module decides.
 */

import * as path from "node:path";

/** Where the chosen command came from; logged and shown in the status tooltip. */
export type LaunchSource = "setting" | "python-extension" | "project-venv" | "virtual-env" | "path" | "user-bin";

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
  /** Whether a file path names an executable file. */
  readonly isExecutable: (file: string) => boolean;
  /** The workspace folder whose venvs are tried (the first folder). */
  readonly workspaceFolder?: string;
  /** `VIRTUAL_ENV`, `UV_PROJECT_ENVIRONMENT` and `PATH` of the extension host. */
  readonly env?: { readonly VIRTUAL_ENV?: string; readonly UV_PROJECT_ENVIRONMENT?: string; readonly PATH?: string };
  /** The user's home folder (for `~/.local/bin`). */
  readonly home?: string;
  readonly platform?: NodeJS.Platform;
}

export type LaunchPlan =
  | {
      readonly ok: true;
      readonly command: string;
      readonly args: readonly string[];
      readonly source: LaunchSource;
      readonly tried?: readonly string[];
    }
  | { readonly ok: false; readonly reason: string; readonly tried?: readonly string[] };

export const SERVER_EXECUTABLE = "micro-agent";
export const SERVER_MODULE = "micro_agent_lsp";
export const INSTALL_HINT = "pip install micro-agent";
export const IN_PROJECT_VENVS = [".venv", "venv", "env"];

/** `<venv>/bin/micro-agent` (`Scripts\micro-agent.exe` on Windows). */
export function venvExecutable(venv: string, platform: NodeJS.Platform = process.platform): string {
  return platform === "win32"
    ? path.win32.join(venv, "Scripts", `${SERVER_EXECUTABLE}.exe`)
    : path.posix.join(venv, "bin", SERVER_EXECUTABLE);
}

/** The venvs to look in, in order: the workspace folder's, then `$VIRTUAL_ENV`. */
function venvCandidates(facts: LaunchFacts): { venv: string; source: LaunchSource }[] {
  const join = facts.platform === "win32" ? path.win32 : path.posix;
  const found: { venv: string; source: LaunchSource }[] = [];
  const folder = facts.workspaceFolder;
  if (folder) {
    const uv = facts.env?.UV_PROJECT_ENVIRONMENT;
    const names = [...(uv ? [uv] : []), ...IN_PROJECT_VENVS];
    for (const name of names) found.push({ venv: join.resolve(folder, name), source: "project-venv" });
  }
  if (facts.env?.VIRTUAL_ENV) found.push({ venv: facts.env.VIRTUAL_ENV, source: "virtual-env" });
  return found.filter((c, i) => found.findIndex((d) => d.venv === c.venv) === i);
}

/** Decide how to start the server, or say why it cannot be found (and what was tried). */
export function resolveLaunch(facts: LaunchFacts): LaunchPlan {
  const tried: string[] = [];
  const configured = facts.configuredCommand.filter((part) => part.trim() !== "");
  if (configured.length > 0) {
    const [command, ...args] = configured;
    const isPath = /[\\/]/.test(command);
    if (isPath ? !facts.isExecutable(command) : !facts.which(command)) {
      return {
        ok: false,
        tried: [`setting microAgent.server.command: ${command} ${isPath ? "is not an executable file" : "is not on PATH"}`],
        reason: `\`${command}\` from the setting \`microAgent.server.command\` ${isPath ? "is not an executable file" : "is not on PATH"}. Fix the setting, or clear it to use \`micro-agent\` from the project's venv or PATH (install it with \`${INSTALL_HINT}\`).`,
      };
    }
    return { ok: true, command, args, source: "setting", tried: [`setting microAgent.server.command: ${command}`] };
  }
  tried.push("setting microAgent.server.command: not set");

  const interpreter = facts.interpreter;
  if (interpreter && interpreter.hasServer && interpreter.command.length > 0) {
    const [command, ...prefix] = interpreter.command;
    tried.push(`the Python extension's interpreter: ${interpreter.command.join(" ")} can import ${SERVER_MODULE}`);
    return { ok: true, command, args: [...prefix, "-m", SERVER_MODULE], source: "python-extension", tried };
  }
  tried.push(
    interpreter
      ? `the Python extension's interpreter: ${interpreter.command.join(" ")} cannot import ${SERVER_MODULE}`
      : "the Python extension's interpreter: none selected (or the extension is not installed)",
  );

  const missingVenvs: string[] = [];
  for (const { venv, source } of venvCandidates(facts)) {
    const executable = venvExecutable(venv, facts.platform);
    if (facts.isExecutable(executable)) {
      tried.push(`${executable}: found`);
      return { ok: true, command: executable, args: ["lsp"], source, tried };
    }
    missingVenvs.push(executable);
  }
  if (missingVenvs.length > 0) tried.push(`${missingVenvs.join(", ")}: not there`);
  else tried.push("the project's venvs: no workspace folder is open");

  const onPath = facts.which(SERVER_EXECUTABLE);
  if (onPath) {
    tried.push(`PATH: ${onPath}`);
    return { ok: true, command: onPath, args: ["lsp"], source: "path", tried };
  }
  tried.push(`PATH: no ${SERVER_EXECUTABLE} in ${facts.env?.PATH ?? "(PATH is empty)"}`);

  if (facts.home) {
    const join = facts.platform === "win32" ? path.win32.join : path.posix.join;
    const userBin = join(facts.home, ".local", "bin", facts.platform === "win32" ? `${SERVER_EXECUTABLE}.exe` : SERVER_EXECUTABLE);
    if (facts.isExecutable(userBin)) {
      tried.push(`${userBin}: found`);
      return { ok: true, command: userBin, args: ["lsp"], source: "user-bin", tried };
    }
    tried.push(`${userBin} (pipx, uv tool): not there`);
  }

  const looked = interpreter
    ? `the selected Python interpreter (${interpreter.command.join(" ")}) cannot import ${SERVER_MODULE}, and \`${SERVER_EXECUTABLE}\` is not in the project's venv, on PATH or in ~/.local/bin`
    : `no Python interpreter was selected, and \`${SERVER_EXECUTABLE}\` is not in the project's venv, on PATH or in ~/.local/bin`;
  return {
    ok: false,
    tried,
    reason:
      `Micro Agent's language server was not found: ${looked}. Tried: ${tried.join("; ")}. ` +
      `Install it into the project's venv (\`.venv/bin/${INSTALL_HINT}\`), or for your user (\`pipx install micro-agent\` or \`uv tool install micro-agent\`), ` +
      `or ${INSTALL_HINT} into the interpreter selected in the Python extension, or set \`microAgent.server.command\`.`,
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
    const cli = "import sys; from micro_agent_cli.main import main; sys.exit(main())";
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
