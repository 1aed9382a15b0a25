/**
 * One language-server session: finds the server (launch ladder), starts the client with our
 * settings and middleware, mirrors progress into notifications, and keeps the status bar current.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  WorkDoneProgressCancelNotification,
} from "vscode-languageclient/node";
import { describeLaunch, findOnPath, LaunchPlan, PythonInterpreter, resolveLaunch } from "./launch";
import { ProgressMirror, ProgressUi, WorkDoneValue } from "./progress";
import { activeInterpreter, onInterpreterChange } from "./python";
import { Serialized } from "./serialize";
import {
  answerConfiguration,
  ExtensionSettings,
  initializationOptions,
  readSettings,
  SECTION,
  withSelectedInterpreter,
} from "./settings";
import { describeRun, initialStatus, renderStatusBar, RunFinished, StatusState } from "./status";
import { versionMismatch } from "./version";

export const RUN_FINISHED = "microAgent/runFinished";
const LANGUAGES = ["python", "typescript", "typescriptreact", "javascript", "javascriptreact", "rust"];

/** Settings for a resource (or the first workspace folder), with variables substituted. */
export function settingsFor(scope?: vscode.Uri): ExtensionSettings {
  const folder = (scope && vscode.workspace.getWorkspaceFolder(scope)) ?? vscode.workspace.workspaceFolders?.[0];
  const config = vscode.workspace.getConfiguration(SECTION, scope ?? folder?.uri);
  return readSettings((key) => config.get(key), { workspaceFolder: folder?.uri.fsPath, userHome: os.homedir() });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** VS Code notifications for the mirror: one `withProgress` per token, closed by `close()`. */
const notificationUi: ProgressUi = {
  open(title, cancellable, onCancel) {
    let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
    let finish: () => void = () => {};
    const pending: { message?: string; increment?: number }[] = [];
    const finished = new Promise<void>((resolve) => (finish = resolve));
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable },
      (p, token) => {
        progress = p;
        token.onCancellationRequested(onCancel);
        pending.splice(0).forEach((step) => p.report(step));
        return finished;
      },
    );
    return {
      report(message, increment) {
        const step = { message, increment };
        if (progress) progress.report(step);
        else pending.push(step);
      },
      close: () => finish(),
    };
  },
};

/**
 * One client for the window, also in a multi-root workspace: the server finds each file's project
 * root (and that project's `.venv`) itself, so a client per folder would only multiply servers.
 */
export class Session implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private plan: LaunchPlan | undefined;
  /** The Python extension's interpreter when the client started (passed to the server). */
  private interpreter: PythonInterpreter | undefined;
  private disposed = false;
  /** start, restart and stop one at a time: two quick restarts never start two clients. */
  private readonly lifecycle = new Serialized(() => this.cycle());
  private status: StatusState = initialStatus;
  private readonly statusItem = vscode.window.createStatusBarItem("microAgent.status", vscode.StatusBarAlignment.Left, 50);
  private readonly disposables: vscode.Disposable[] = [];
  private readonly progress = new ProgressMirror(
    notificationUi,
    (token) => void this.client?.sendNotification(WorkDoneProgressCancelNotification.type, { token }),
    (running) => this.setStatus({ ...this.status, running }),
  );

  constructor(
    readonly output: vscode.OutputChannel,
    private readonly extensionVersion: string,
  ) {
    this.statusItem.name = "Micro Agent";
    this.statusItem.command = "microAgent.palette.showStatus";
    this.render();
    this.statusItem.show();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => this.onConfigurationChanged(event)),
    );
    // the interpreter may start the server, and it is the project's Python the tests run with
    void onInterpreterChange(() => void this.restart()).then((d) => d && this.disposables.push(d));
  }

  /** The launch plan in use (for the audit log command). */
  get launchPlan(): LaunchPlan | undefined {
    return this.plan;
  }

  /** Start the client (serialized with restarts). */
  start(): Promise<void> {
    return this.lifecycle.run();
  }

  /** Stop the client for good (deactivate): waits for a start or restart in progress first. */
  async stop(): Promise<void> {
    this.disposed = true;
    await this.lifecycle.idle();
    await this.stopClient();
  }

  restart(): Promise<void> {
    this.output.appendLine("Restarting the language server…");
    return this.lifecycle.run();
  }

  /** Settings for a resource, with the Python extension's interpreter passed on (settings.ts). */
  private settingsFor(scope?: vscode.Uri): ExtensionSettings {
    return withSelectedInterpreter(settingsFor(scope), this.interpreter?.command, vscode.workspace.workspaceFolders?.length ?? 0);
  }

  private async cycle(): Promise<void> {
    await this.stopClient();
    if (!this.disposed) await this.startClient();
  }

  private async startClient(): Promise<void> {
    const plain = settingsFor();
    this.interpreter = await activeInterpreter();
    this.plan = resolveLaunch({
      configuredCommand: plain.serverCommand,
      interpreter: this.interpreter,
      which: (name) => findOnPath(name, process.env, isExecutable),
      isExecutable,
      workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      env: process.env,
      home: os.homedir(),
    });
    for (const step of this.plan.tried ?? []) this.output.appendLine(`  tried ${step}`);
    this.output.appendLine(describeLaunch(this.plan));
    if (!this.plan.ok) {
      this.setStatus({ ...this.status, server: "missing", serverDetail: this.plan.reason });
      void this.offerInstall(this.plan.reason);
      return;
    }
    const settings = this.settingsFor();
    if (settings.server.interpreter) this.output.appendLine(`The tests run with ${settings.server.interpreter}`);
    this.setStatus({ ...this.status, server: "starting" });
    const client = this.createClient(this.plan, settings);
    this.client = client;
    client.onDidChangeState((event) => {
      if (this.client !== client) return; // a client being replaced
      if (event.newState === State.Running) this.setStatus({ ...this.status, server: "ready", serverDetail: undefined });
      if (event.newState === State.Stopped) {
        this.progress.clear();
        if (this.status.server !== "missing") this.setStatus({ ...this.status, server: "stopped" });
      }
    });
    client.onNotification(RUN_FINISHED, (run: RunFinished) => {
      this.output.appendLine(`Run ${run.runId} finished — ${describeRun(run)}`);
      this.setStatus({ ...this.status, lastRun: run });
      if (run.outcome === "success") void revealFix(run.uri);
    });
    try {
      await client.start();
    } catch (error) {
      const command = [this.plan.command, ...this.plan.args].join(" ");
      const reason = `The Micro Agent language server did not start (\`${command}\`): ${errorText(error)}. Its output is in the "Micro Agent" output channel.`;
      this.output.appendLine(reason);
      this.setStatus({ ...this.status, server: "missing", serverDetail: reason });
      void this.offerInstall(reason);
      return;
    }
    const serverInfo = client.initializeResult?.serverInfo;
    this.output.appendLine(`Language server ${serverInfo?.name ?? "?"} ${serverInfo?.version ?? "(no version)"}, extension ${this.extensionVersion}`);
    const mismatch = versionMismatch(this.extensionVersion, serverInfo);
    if (mismatch) {
      this.output.appendLine(mismatch);
      void vscode.window.showWarningMessage(mismatch);
    }
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.progress.clear();
    if (client) {
      try {
        await client.stop(5000);
      } catch {
        /* already stopped */
      }
    }
  }

  /** `workspace/executeCommand` on the server; errors are shown and answered with undefined. */
  async execute(command: string, args: unknown[]): Promise<unknown> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      void vscode.window.showErrorMessage(
        this.status.serverDetail ?? "The Micro Agent language server is not running. Run \"Micro Agent: Restart Language Server\".",
      );
      return undefined;
    }
    try {
      return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
    } catch (error) {
      void vscode.window.showErrorMessage(`Micro Agent: ${errorText(error)}`);
      return undefined;
    }
  }

  dispose(): void {
    void this.stop();
    this.statusItem.dispose();
    this.disposables.forEach((d) => d.dispose());
  }

  private createClient(plan: Extract<LaunchPlan, { ok: true }>, settings: ExtensionSettings): LanguageClient {
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const serverOptions: ServerOptions = {
      command: plan.command,
      args: [...plan.args], // no `transport`: TransportKind.stdio would append `--stdio` to the arguments
      options: { cwd, env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
      outputChannel: this.output,
      initializationOptions: initializationOptions(settings),
      diagnosticCollectionName: "micro-agent",
      middleware: {
        // Our notifications replace the client's status-bar progress; `end` still goes to the
        // client so that it disposes its bookkeeping for the token.
        handleWorkDoneProgress: (token, params, next) => {
          this.progress.handle(token, params as WorkDoneValue);
          if (params.kind === "end") next(token, params);
        },
        workspace: {
          configuration: async (params, token, next) => {
            const ours = answerConfiguration(params.items, (scope) =>
              this.settingsFor(scope ? vscode.Uri.parse(scope) : undefined),
            );
            if (ours.every((answer) => answer !== undefined)) return ours;
            const theirs = await next(params, token);
            return Array.isArray(theirs) ? ours.map((answer, i) => answer ?? theirs[i]) : theirs;
          },
        },
      },
    };
    return new LanguageClient("microAgent", "Micro Agent", serverOptions, clientOptions);
  }

  private onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(SECTION)) return;
    if (event.affectsConfiguration(`${SECTION}.server.command`) || event.affectsConfiguration(`${SECTION}.interpreter`)) {
      void this.restart();
      return;
    }
    const client = this.client;
    if (client?.isRunning()) {
      void client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: initializationOptions(this.settingsFor()),
      });
    }
  }

  private async offerInstall(reason: string): Promise<void> {
    const openSetting = "Open Setting";
    const showOutput = "Show Output";
    const choice = await vscode.window.showErrorMessage(reason, openSetting, showOutput);
    if (choice === openSetting) {
      await vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.server.command`);
    } else if (choice === showOutput) {
      this.output.show(true);
    }
  }

  private setStatus(next: StatusState): void {
    this.status = next;
    this.render();
  }

  private render(): void {
    const view = renderStatusBar(this.status);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor = view.background ? new vscode.ThemeColor(view.background) : undefined;
  }
}

/**
 * Show a fixed file that is not on screen: the fix arrives as a workspace edit, which VS Code applies
 * to files in the background (unsaved), so a fix started from a test file would otherwise go unseen.
 */
async function revealFix(uri: string): Promise<void> {
  const target = vscode.Uri.parse(uri);
  if (vscode.window.visibleTextEditors.some((editor) => editor.document.uri.toString() === target.toString())) return;
  const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
  if (!document?.isDirty) return; // nothing was applied (already fixed, or the edit was refused)
  await vscode.window.showTextDocument(document, { preview: false });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
