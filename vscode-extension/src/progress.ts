/**
 * Mirrors the server's `$/progress` (work done progress) into cancellable notifications.
 *
 * vscode-languageclient shows server progress in the status bar only, without a Cancel button.
 * The client's `handleWorkDoneProgress` middleware hands every begin/report/end to `ProgressMirror`
 * instead; it opens one notification per token (title, message, percentage) whose Cancel button
 * sends `window/workDoneProgress/cancel` for that token, which stops the run on the server.
 * The UI is injected, so this module is plain logic.
 */

export interface WorkDoneBegin {
  kind: "begin";
  title: string;
  cancellable?: boolean;
  message?: string;
  percentage?: number;
}
export interface WorkDoneReport {
  kind: "report";
  cancellable?: boolean;
  message?: string;
  percentage?: number;
}
export interface WorkDoneEnd {
  kind: "end";
  message?: string;
}
export type WorkDoneValue = WorkDoneBegin | WorkDoneReport | WorkDoneEnd;
export type Token = string | number;

/** One open notification. */
export interface ProgressHandle {
  /** `increment` is the percentage points gained since the last report (VS Code's model). */
  report(message: string | undefined, increment: number | undefined): void;
  close(): void;
}

export interface ProgressUi {
  open(title: string, cancellable: boolean, onCancel: () => void): ProgressHandle;
}

/** A run in progress as the status bar sees it. */
export interface ActiveProgress {
  title: string;
  message?: string;
}

interface Entry {
  handle: ProgressHandle;
  title: string;
  message?: string;
  reported: number;
}

export class ProgressMirror {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ui: ProgressUi,
    /** Sends `window/workDoneProgress/cancel` for the token. */
    private readonly sendCancel: (token: Token) => void,
    /** Called after every change with the runs in progress (oldest first). */
    private readonly onChange: (active: ReadonlyMap<string, ActiveProgress>) => void = () => {},
  ) {}

  handle(token: Token, value: WorkDoneValue): void {
    const key = String(token);
    switch (value.kind) {
      case "begin": {
        this.entries.get(key)?.handle.close();
        const handle = this.ui.open(value.title, value.cancellable === true, () => this.sendCancel(token));
        const entry: Entry = { handle, title: value.title, message: value.message, reported: 0 };
        this.entries.set(key, entry);
        this.advance(entry, value.message, value.percentage);
        break;
      }
      case "report": {
        const entry = this.entries.get(key);
        if (!entry) return; // a report without begin: nothing to show
        if (value.message !== undefined) entry.message = value.message;
        this.advance(entry, value.message, value.percentage);
        break;
      }
      case "end": {
        const entry = this.entries.get(key);
        if (!entry) return;
        entry.handle.close();
        this.entries.delete(key);
        break;
      }
    }
    this.onChange(this.active());
  }

  /** Close every notification (the server stopped). */
  clear(): void {
    for (const entry of this.entries.values()) entry.handle.close();
    this.entries.clear();
    this.onChange(this.active());
  }

  active(): ReadonlyMap<string, ActiveProgress> {
    return new Map([...this.entries].map(([k, e]) => [k, { title: e.title, message: e.message }]));
  }

  private advance(entry: Entry, message: string | undefined, percentage: number | undefined): void {
    let increment: number | undefined;
    if (typeof percentage === "number" && Number.isFinite(percentage)) {
      const target = Math.max(0, Math.min(100, percentage));
      increment = Math.max(0, target - entry.reported);
      entry.reported += increment;
    }
    if (message !== undefined || increment) entry.handle.report(message, increment || undefined);
  }
}
