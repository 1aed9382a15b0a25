import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { auditCommandFor, describeLaunch, findOnPath, LaunchFacts, resolveLaunch } from "../src/launch";

const nothingOnPath = () => undefined;
const onPath = (found: Record<string, string>) => (name: string) => found[name];
const anyFile = () => true;

describe("resolveLaunch: the ladder", () => {
  it("uses the server.command setting first, as given", () => {
    const plan = resolveLaunch({
      configuredCommand: ["/venv/bin/micro-agent", "lsp"],
      interpreter: { command: ["/usr/bin/python3"], hasServer: true },
      which: onPath({ "micro-agent": "/usr/local/bin/micro-agent" }),
      isExecutable: anyFile,
    });
    assert.deepEqual(plan, { ok: true, command: "/venv/bin/micro-agent", args: ["lsp"], source: "setting" });
  });

  it("says the setting is wrong when its command does not exist, instead of trying something else", () => {
    const missingFile = resolveLaunch({
      configuredCommand: ["/nonexistent/micro-agent", "lsp"],
      which: onPath({ "micro-agent": "/usr/local/bin/micro-agent" }),
      isExecutable: (file) => file !== "/nonexistent/micro-agent",
    });
    assert.equal(missingFile.ok, false);
    assert.match(describeLaunch(missingFile), /`\/nonexistent\/micro-agent` from the setting `microAgent.server.command` is not an executable file/);
    const bareName = resolveLaunch({ configuredCommand: ["ma-lsp"], which: nothingOnPath, isExecutable: anyFile });
    assert.match(describeLaunch(bareName), /`ma-lsp` from the setting `microAgent.server.command` is not on PATH/);
    const found = resolveLaunch({ configuredCommand: ["uvx", "micro-agent", "lsp"], which: onPath({ uvx: "/bin/uvx" }), isExecutable: () => false });
    assert.deepEqual(found, { ok: true, command: "uvx", args: ["micro-agent", "lsp"], source: "setting" });
  });

  it("ignores blank entries of the setting and falls through when it is all blank", () => {
    const facts: LaunchFacts = { configuredCommand: [" ", ""], which: onPath({ "micro-agent": "/bin/micro-agent" }), isExecutable: anyFile };
    assert.deepEqual(resolveLaunch(facts), { ok: true, command: "/bin/micro-agent", args: ["lsp"], source: "path" });
  });

  it("runs -m micro_agent_lsp with the Python extension's interpreter when it has the server", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      interpreter: { command: ["conda", "run", "-n", "dev", "python"], hasServer: true },
      which: onPath({ "micro-agent": "/usr/local/bin/micro-agent" }),
      isExecutable: anyFile,
    });
    assert.deepEqual(plan, {
      ok: true,
      command: "conda",
      args: ["run", "-n", "dev", "python", "-m", "micro_agent_lsp"],
      source: "python-extension",
    });
  });

  it("skips an interpreter without the server and finds micro-agent on PATH", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      interpreter: { command: ["/usr/bin/python3"], hasServer: false },
      which: onPath({ "micro-agent": "/home/u/.local/bin/micro-agent" }),
      isExecutable: anyFile,
    });
    assert.deepEqual(plan, { ok: true, command: "/home/u/.local/bin/micro-agent", args: ["lsp"], source: "path" });
  });

  it("says how to install when nothing is found, naming the interpreter it tried", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      interpreter: { command: ["/usr/bin/python3"], hasServer: false },
      which: nothingOnPath,
      isExecutable: anyFile,
    });
    assert.equal(plan.ok, false);
    if (plan.ok) return;
    assert.match(plan.reason, /pip install micro-agent/);
    assert.match(plan.reason, /\(\/usr\/bin\/python3\) cannot import micro_agent_lsp/);
    assert.match(plan.reason, /microAgent\.server\.command/);
  });

  it("without the Python extension and nothing on PATH, still says what to do", () => {
    const plan = resolveLaunch({ configuredCommand: [], which: nothingOnPath, isExecutable: anyFile });
    assert.equal(plan.ok, false);
    assert.match(describeLaunch(plan), /no Python interpreter was selected.*pip install micro-agent/);
  });
});

describe("describeLaunch", () => {
  it("logs the exact command and where it came from, quoting paths with spaces", () => {
    const line = describeLaunch({ ok: true, command: "/My Tools/python", args: ["-m", "micro_agent_lsp"], source: "python-extension" });
    assert.equal(line, 'Starting the language server (python-extension): "/My Tools/python" -m micro_agent_lsp');
  });
});

describe("auditCommandFor", () => {
  it("turns `micro-agent lsp` into `micro-agent audit runs`", () => {
    assert.deepEqual(auditCommandFor({ ok: true, command: "/venv/bin/micro-agent", args: ["lsp"], source: "setting" }), [
      "/venv/bin/micro-agent",
      "audit",
      "runs",
    ]);
  });

  it("runs the CLI through the same interpreter for `python -m micro_agent_lsp`", () => {
    const command = auditCommandFor({ ok: true, command: "/venv/bin/python", args: ["-m", "micro_agent_lsp"], source: "python-extension" });
    assert.ok(command);
    assert.deepEqual(command.slice(0, 2), ["/venv/bin/python", "-c"]);
    assert.match(command[2], /from micro_agent\.cli import main/);
    assert.deepEqual(command.slice(3), ["audit", "runs"]);
  });

  it("gives up on a command it cannot read", () => {
    assert.equal(auditCommandFor({ ok: true, command: "/opt/wrapper.sh", args: [], source: "setting" }), undefined);
    assert.equal(auditCommandFor({ ok: false, reason: "x" }), undefined);
  });
});

describe("findOnPath (real files)", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  function binDir(files: Record<string, number>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-path-"));
    dirs.push(dir);
    for (const [name, mode] of Object.entries(files)) {
      fs.writeFileSync(path.join(dir, name), "#!/bin/sh\n");
      fs.chmodSync(path.join(dir, name), mode);
    }
    return dir;
  }
  const isExecutable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };

  it("finds the first executable match in PATH order, skipping non-executable files", () => {
    const notExecutable = binDir({ "micro-agent": 0o644 });
    const first = binDir({ "micro-agent": 0o755 });
    const second = binDir({ "micro-agent": 0o755 });
    const PATH = ["", notExecutable, first, second].join(":");
    assert.equal(findOnPath("micro-agent", { PATH }, isExecutable, "linux"), path.join(first, "micro-agent"));
  });

  it("answers undefined when it is nowhere", () => {
    assert.equal(findOnPath("micro-agent", { PATH: binDir({}) }, isExecutable, "linux"), undefined);
    assert.equal(findOnPath("micro-agent", {}, isExecutable, "linux"), undefined);
  });

  it("tries PATHEXT extensions on Windows", () => {
    const seen: string[] = [];
    const found = findOnPath("micro-agent", { Path: "C:\\Py\\Scripts;D:\\bin", PATHEXT: ".COM;.EXE" }, (f) => {
      seen.push(f);
      return f === "D:\\bin\\micro-agent.exe";
    }, "win32");
    assert.equal(found, "D:\\bin\\micro-agent.exe");
    assert.ok(seen.includes("C:\\Py\\Scripts\\micro-agent.com"));
  });
});
