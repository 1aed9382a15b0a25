/** "Micro Agent: Open Audit Log": `micro-agent audit runs` shown in a read-only virtual document. */

import { execFile } from "node:child_process";
import * as vscode from "vscode";

export const AUDIT_SCHEME = "micro-agent-audit";

export class AuditLogDocuments implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly contents = new Map<string, string>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? "";
  }

  /** Run `command` in `cwd` and show what it printed (or why it failed). */
  async show(command: string[], cwd: string | undefined): Promise<void> {
    const text = await runForText(command, cwd);
    const uri = vscode.Uri.from({ scheme: AUDIT_SCHEME, path: "/Micro Agent Audit Log.txt" });
    this.contents.set(uri.toString(), text);
    this.changed.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { preview: false });
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function runForText(command: string[], cwd: string | undefined): Promise<string> {
  const [program, ...args] = command;
  const header = `$ ${command.join(" ")}${cwd ? `   (in ${cwd})` : ""}\n\n`;
  return new Promise((resolve) => {
    execFile(program, args, { cwd, timeout: 30000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, COLUMNS: "160", NO_COLOR: "1" } }, (error, stdout, stderr) => {
      if (error && !stdout) {
        resolve(`${header}${stderr || error.message}\nThe audit log could not be read. Is micro-agent installed (pip install micro-agent)?\n`);
      } else {
        resolve(header + stdout + (stderr ? `\n${stderr}` : ""));
      }
    });
  });
}
