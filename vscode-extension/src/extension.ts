/** Entry point: wires the session, the palette commands and the audit log documents together. */

import * as vscode from "vscode";
import { AUDIT_SCHEME, AuditLogDocuments } from "./auditLog";
import { registerCommands } from "./commands";
import { Session } from "./session";

let session: Session | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Micro Agent");
  context.subscriptions.push(output);
  if (!vscode.workspace.isTrusted) {
    // package.json declares untrustedWorkspaces unsupported, so VS Code should not get here.
    output.appendLine("Workspace not trusted: the language server (which runs the project's tests) is not started.");
    return;
  }
  const audit = new AuditLogDocuments();
  session = new Session(output, String(context.extension.packageJSON.version ?? "unknown"));
  context.subscriptions.push(
    session,
    audit,
    vscode.workspace.registerTextDocumentContentProvider(AUDIT_SCHEME, audit),
    ...registerCommands(session, audit),
  );
  await session.start();
}

export async function deactivate(): Promise<void> {
  await session?.stop();
  session = undefined;
}
