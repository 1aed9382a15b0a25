import * as assert from "node:assert/strict";
import { ActiveProgress, ProgressMirror, ProgressUi } from "../src/progress";

/** A UI that records what a user would see. */
function recordingUi() {
  const log: string[] = [];
  const cancels: (() => void)[] = [];
  const ui: ProgressUi = {
    open(title, cancellable, onCancel) {
      log.push(`open ${title}${cancellable ? " [Cancel]" : ""}`);
      cancels.push(onCancel);
      return {
        report: (message, increment) => log.push(`report ${title}: ${message ?? ""} +${increment ?? 0}`),
        close: () => log.push(`close ${title}`),
      };
    },
  };
  return { ui, log, cancels };
}

describe("ProgressMirror", () => {
  it("opens one cancellable notification per token, reports increments, and closes at end", () => {
    const { ui, log } = recordingUi();
    const states: ReadonlyMap<string, ActiveProgress>[] = [];
    const mirror = new ProgressMirror(ui, () => {}, (active) => states.push(active));
    mirror.handle("tok", { kind: "begin", title: "Micro Agent: fixing calc.py", cancellable: true, message: "tests", percentage: 0 });
    mirror.handle("tok", { kind: "report", message: "simple 1/5 · artisan", percentage: 20 });
    mirror.handle("tok", { kind: "report", percentage: 15 }); // never goes backwards
    mirror.handle("tok", { kind: "report", message: "simple 1/5 · tests", percentage: 40 });
    mirror.handle("tok", { kind: "end", message: "solved" });
    assert.deepEqual(log, [
      "open Micro Agent: fixing calc.py [Cancel]",
      "report Micro Agent: fixing calc.py: tests +0",
      "report Micro Agent: fixing calc.py: simple 1/5 · artisan +20",
      "report Micro Agent: fixing calc.py: simple 1/5 · tests +20",
      "close Micro Agent: fixing calc.py",
    ]);
    assert.deepEqual(states.map((s) => s.get("tok")?.message), [
      "tests",
      "simple 1/5 · artisan",
      "simple 1/5 · artisan",
      "simple 1/5 · tests",
      undefined,
    ]);
  });

  it("sends the cancel for the token whose Cancel button was pressed", () => {
    const { ui, cancels } = recordingUi();
    const cancelled: (string | number)[] = [];
    const mirror = new ProgressMirror(ui, (token) => cancelled.push(token));
    mirror.handle("a", { kind: "begin", title: "A", cancellable: true });
    mirror.handle(7, { kind: "begin", title: "B", cancellable: true });
    cancels[1]();
    assert.deepEqual(cancelled, [7]);
    assert.deepEqual([...mirror.active().keys()], ["a", "7"]);
  });

  it("ignores reports and ends for tokens it never saw, and clear() closes everything", () => {
    const { ui, log } = recordingUi();
    const mirror = new ProgressMirror(ui, () => {});
    mirror.handle("x", { kind: "report", message: "lost" });
    mirror.handle("x", { kind: "end" });
    mirror.handle("y", { kind: "begin", title: "Y" });
    mirror.clear();
    assert.deepEqual(log, ["open Y", "close Y"]);
    assert.equal(mirror.active().size, 0);
  });
});
