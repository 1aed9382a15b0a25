/** The Python extension's active interpreter, when that extension is installed (no hard dependency). */

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { PythonInterpreter, SERVER_MODULE } from "./launch";

const PYTHON_EXTENSION = "ms-python.python";

interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand: string[] | undefined };
  };
}

async function pythonApi(): Promise<PythonApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION);
  if (!extension) return undefined;
  try {
    return extension.isActive ? extension.exports : await extension.activate();
  } catch {
    return undefined;
  }
}

/** The interpreter command: the environments API first, the older execution details second. */
async function interpreterCommand(api: PythonApi, resource?: vscode.Uri): Promise<string[] | undefined> {
  try {
    const environments = api.environments;
    if (environments) {
      const active = environments.getActiveEnvironmentPath(resource);
      const resolved = await environments.resolveEnvironment(active);
      const executable = resolved?.executable.uri?.fsPath;
      if (executable) return [executable];
    }
    const command = api.settings?.getExecutionDetails?.(resource).execCommand;
    return command && command.length > 0 ? command : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `command` can import the server module, without importing it (fast). */
function canImportServer(command: string[]): Promise<boolean> {
  const [program, ...prefix] = command;
  const probe = `import importlib.util, sys; sys.exit(0 if importlib.util.find_spec("${SERVER_MODULE}") else 1)`;
  return new Promise((resolve) => {
    execFile(program, [...prefix, "-c", probe], { timeout: 15000 }, (error) => resolve(!error));
  });
}

export async function activeInterpreter(resource?: vscode.Uri): Promise<PythonInterpreter | undefined> {
  const api = await pythonApi();
  const command = api && (await interpreterCommand(api, resource));
  if (!command) return undefined;
  return { command, hasServer: await canImportServer(command) };
}

/** Fires when the user picks another interpreter in the Python extension. */
export async function onInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  const event = (await pythonApi())?.environments?.onDidChangeActiveEnvironmentPath;
  return event ? event(() => listener()) : undefined;
}
