/** The palette commands. Their ids are our own: the server's ids are registered by the client. */

import * as vscode from "vscode";
import { AuditLogDocuments } from "./auditLog";
import { auditCommandFor } from "./launch";
import { Session } from "./session";
import { renderStatusReport } from "./status";

/** The server's commands (DESIGN.md §3). */
export const SERVER = {
  run: "microAgent.run",
  status: "microAgent.status",
  escalate: "microAgent.escalate",
  cancel: "microAgent.cancel",
} as const;

function activeDocument(action: string): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.scheme !== "file") {
    void vscode.window.showWarningMessage(`Micro Agent: open a file on disk to ${action}.`);
    return undefined;
  }
  return editor;
}

export function registerCommands(session: Session, audit: AuditLogDocuments): vscode.Disposable[] {
  const forFile = (action: string, server: string, withLine: boolean) => async () => {
    const editor = activeDocument(action);
    if (!editor) return;
    const args: { uri: string; line?: number } = { uri: editor.document.uri.toString() };
    if (withLine) args.line = editor.selection.active.line;
    return session.execute(server, [args]);
  };
  return [
    vscode.commands.registerCommand("microAgent.palette.fixFile", forFile("fix it", SERVER.run, false)),
    vscode.commands.registerCommand("microAgent.palette.fixTestAtCursor", forFile("fix a test", SERVER.run, true)),
    vscode.commands.registerCommand("microAgent.palette.escalate", forFile("escalate its run", SERVER.escalate, false)),
    vscode.commands.registerCommand("microAgent.palette.cancel", forFile("cancel its run", SERVER.cancel, false)),
    vscode.commands.registerCommand("microAgent.palette.showStatus", async () => {
      const reply = await session.execute(SERVER.status, [{}]);
      if (reply === undefined) return;
      const picked = await vscode.window.showQuickPick(renderStatusReport(reply), {
        title: "Micro Agent: runs",
        placeHolder: "Pick a run to open its file",
      });
      if (picked?.uri) await vscode.window.showTextDocument(vscode.Uri.parse(picked.uri));
    }),
    vscode.commands.registerCommand("microAgent.palette.openAuditLog", async () => {
      const plan = session.launchPlan;
      const command = plan && auditCommandFor(plan);
      if (!command) {
        void vscode.window.showErrorMessage(
          "Micro Agent: cannot tell how to run `micro-agent audit runs` from `microAgent.server.command`; run it in a terminal.",
        );
        return;
      }
      await audit.show(command, vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
    }),
    vscode.commands.registerCommand("microAgent.palette.showOutput", () => session.output.show(true)),
    vscode.commands.registerCommand("microAgent.palette.restartServer", () => session.restart()),
  ];
}
