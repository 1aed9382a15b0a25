import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { auditCommandFor, describeLaunch, findOnPath, LaunchFacts, LaunchPlan, resolveLaunch } from "../src/launch";

const nothingOnPath = () => undefined;
const onPath = (found: Record<string, string>) => (name: string) => found[name];
const anyFile = () => true;
/** The plan without its `tried` log (checked on its own below). */
const decided = (plan: LaunchPlan) => {
  const { tried: _tried, ...rest } = plan;
  return rest;
};

describe("resolveLaunch: the ladder", () => {
  it("uses the server.command setting first, as given", () => {
    const plan = resolveLaunch({
      configuredCommand: ["/venv/bin/micro-agent", "lsp"],
      interpreter: { command: ["/usr/bin/python3"], hasServer: true },
      which: onPath({ "micro-agent": "/usr/local/bin/micro-agent" }),
      isExecutable: anyFile,
    });
    assert.deepEqual(decided(plan), { ok: true, command: "/venv/bin/micro-agent", args: ["lsp"], source: "setting" });
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
    assert.deepEqual(decided(found), { ok: true, command: "uvx", args: ["micro-agent", "lsp"], source: "setting" });
  });

  it("ignores blank entries of the setting and falls through when it is all blank", () => {
    const facts: LaunchFacts = { configuredCommand: [" ", ""], which: onPath({ "micro-agent": "/bin/micro-agent" }), isExecutable: anyFile };
    assert.deepEqual(decided(resolveLaunch(facts)), { ok: true, command: "/bin/micro-agent", args: ["lsp"], source: "path" });
  });

  it("runs -m micro_agent_lsp with the Python extension's interpreter when it has the server", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      interpreter: { command: ["conda", "run", "-n", "dev", "python"], hasServer: true },
      which: onPath({ "micro-agent": "/usr/local/bin/micro-agent" }),
      isExecutable: anyFile,
    });
    assert.deepEqual(decided(plan), {
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
    assert.deepEqual(decided(plan), { ok: true, command: "/home/u/.local/bin/micro-agent", args: ["lsp"], source: "path" });
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

describe("resolveLaunch: the project's venvs, PATH, ~/.local/bin", () => {
  const files = (...executables: string[]) => (file: string) => executables.includes(file);

  it("finds micro-agent in the workspace folder's .venv before PATH, without the Python extension", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      which: onPath({ "micro-agent": "/usr/local/bin/micro-agent" }),
      isExecutable: files("/ws/.venv/bin/micro-agent", "/ws/venv/bin/micro-agent"),
      workspaceFolder: "/ws",
      env: {},
      platform: "linux",
    });
    assert.deepEqual(decided(plan), { ok: true, command: "/ws/.venv/bin/micro-agent", args: ["lsp"], source: "project-venv" });
    assert.deepEqual(plan.tried, [
      "setting microAgent.server.command: not set",
      "the Python extension's interpreter: none selected (or the extension is not installed)",
      "/ws/.venv/bin/micro-agent: found",
    ]);
  });

  it("tries $UV_PROJECT_ENVIRONMENT, .venv, venv, env, then $VIRTUAL_ENV, in that order", () => {
    const base = { configuredCommand: [], which: nothingOnPath, workspaceFolder: "/ws", platform: "linux" as const };
    const env = { UV_PROJECT_ENVIRONMENT: "build/env", VIRTUAL_ENV: "/home/u/venvs/x" };
    const pick = (...present: string[]) => {
      const plan = resolveLaunch({ ...base, env, isExecutable: files(...present) });
      return plan.ok ? [plan.command, plan.source] : undefined;
    };
    assert.deepEqual(pick("/ws/env/bin/micro-agent", "/ws/build/env/bin/micro-agent"), ["/ws/build/env/bin/micro-agent", "project-venv"]);
    assert.deepEqual(pick("/ws/env/bin/micro-agent", "/ws/venv/bin/micro-agent"), ["/ws/venv/bin/micro-agent", "project-venv"]);
    assert.deepEqual(pick("/ws/env/bin/micro-agent"), ["/ws/env/bin/micro-agent", "project-venv"]);
    assert.deepEqual(pick("/home/u/venvs/x/bin/micro-agent"), ["/home/u/venvs/x/bin/micro-agent", "virtual-env"]);
  });

  it("uses Scripts\\micro-agent.exe in a Windows venv", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      which: nothingOnPath,
      isExecutable: files("C:\\ws\\.venv\\Scripts\\micro-agent.exe"),
      workspaceFolder: "C:\\ws",
      platform: "win32",
    });
    assert.equal(plan.ok && plan.command, "C:\\ws\\.venv\\Scripts\\micro-agent.exe");
  });

  it("after PATH, finds ~/.local/bin/micro-agent (pipx, uv tool) that a desktop-started VS Code misses", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      which: nothingOnPath,
      isExecutable: files("/home/u/.local/bin/micro-agent"),
      workspaceFolder: "/ws",
      env: { PATH: "/usr/bin:/bin" },
      home: "/home/u",
      platform: "linux",
    });
    assert.deepEqual(decided(plan), { ok: true, command: "/home/u/.local/bin/micro-agent", args: ["lsp"], source: "user-bin" });
    assert.ok(plan.tried?.includes("PATH: no micro-agent in /usr/bin:/bin"));
  });

  it("when nothing is found, lists every place it tried and says how to fix it", () => {
    const plan = resolveLaunch({
      configuredCommand: [],
      interpreter: { command: ["/usr/bin/python3"], hasServer: false },
      which: nothingOnPath,
      isExecutable: () => false,
      workspaceFolder: "/ws",
      env: { PATH: "/usr/bin:/bin", VIRTUAL_ENV: "/opt/v" },
      home: "/home/u",
      platform: "linux",
    });
    assert.equal(plan.ok, false);
    if (plan.ok) return;
    for (const place of [
      "/usr/bin/python3 cannot import micro_agent_lsp",
      "/ws/.venv/bin/micro-agent, /ws/venv/bin/micro-agent, /ws/env/bin/micro-agent, /opt/v/bin/micro-agent: not there",
      "PATH: no micro-agent in /usr/bin:/bin",
      "/home/u/.local/bin/micro-agent (pipx, uv tool): not there",
    ]) {
      assert.ok(plan.reason.includes(place), `${place} missing from: ${plan.reason}`);
    }
    assert.match(plan.reason, /`\.venv\/bin\/pip install micro-agent`/);
    assert.match(plan.reason, /pipx install micro-agent/);
    assert.equal(plan.tried?.length, 5);
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
    assert.match(command[2], /from micro_agent_cli\.main import main/);
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
