// End to end in real VS Code: code-server 4.100.3 + our .vsix + the real `micro-agent lsp` server,
// driven by playwright-core in Debian's chromium; the scripted model server answers the model calls.
//
//   A. open a failing test, Ctrl+. → "Fix with Micro Agent", the progress notification appears,
//      the fix lands in the editor, Ctrl+S, the tests pass on disk;
//   B. the same through the palette: "Micro Agent: Fix This File" on the code under test;
//   C. Cancel in the progress notification stops a run: nothing changes, the run ends "cancelled";
//   D. the status bar item opens the run status, and "Open Audit Log" lists the three runs;
//   E. pointing microAgent.server.command at nothing restarts the client and says how to fix it.
//
// As a new user has it (issue 11): the project has its own `.venv` with micro-agent and pytest in it, no
// `microAgent.server.command`, no Python extension, and the extension host gets VS Code's own PATH (a
// login shell's, without `python` or the venv): the extension finds `.venv/bin/micro-agent`, and the
// tests run in that venv (a conftest.py records the prefix and VIRTUAL_ENV of every test run).
//
// Usually started by e2e/run.sh, which checks the prerequisites. Exit 0 = every scenario passed.
// Environment: CODE_SERVER_ENTRY, VSIX, MICRO_AGENT_SERVER_COMMAND (JSON array), E2E_PYTHON,
// E2E_ARTIFACTS (screenshots and logs), E2E_KEEP=1 (keep the temp dir), E2E_UPDATE_IMAGES=1
// (copy the README screenshot into images/).
"use strict";
const { chromium } = require("playwright-core");
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");
const readline = require("node:readline");

const EXT_DIR = path.resolve(__dirname, "..");
const REPO = path.resolve(EXT_DIR, "..");
const CS = process.env.CODE_SERVER_ENTRY || path.join(os.homedir(), ".cache/micro-agent/code-server/node_modules/code-server/out/node/entry.js");
const VSIX = process.env.VSIX || path.join(EXT_DIR, "micro-agent.vsix");
const PYTHON = process.env.E2E_PYTHON || path.join(REPO, ".venv/bin/python");
// unset: the extension finds the project's `.venv/bin/micro-agent` itself (the point of the test)
const SERVER_COMMAND = process.env.MICRO_AGENT_SERVER_COMMAND ? JSON.parse(process.env.MICRO_AGENT_SERVER_COMMAND) : undefined;
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(__dirname, "artifacts");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const t0 = Date.now();
const lap = (label) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${label}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timeout (${ms / 1000}s) waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

function httpOk(url) {
  return new Promise((resolve) => {
    http.get(url, (res) => { res.resume(); resolve(res.statusCode === 200); }).on("error", () => resolve(false));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// ------------------------------------------------------------------------------------------------
// The project under test: two small modules with one bug each, plus one for the cancel scenario.

const FILES = {
  "calc.py": "def add(a, b):\n    return a - b\n",
  "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
  "shout.py": 'def shout(text):\n    return text.lower() + "!"\n',
  "test_shout.py": 'from shout import shout\n\n\ndef test_shout():\n    assert shout("hi") == "HI!"\n',
  "slow.py": "def double(n):\n    return n + 2\n",
  "test_slow.py": "from slow import double\n\n\ndef test_double():\n    assert double(5) == 10\n",
};
const FIXED = {
  "calc.py": "def add(a, b):\n    return a + b\n",
  "shout.py": 'def shout(text):\n    return text.upper() + "!"\n',
};
const fence = (name, body) => "Here is the fixed file.\n\n```python " + name + "\n" + body + "```\n";

// The artisan's replies are consumed in order: A (calc.py), B (shout.py), then C, which arrives too
// late to matter (the run is cancelled while it waits). A's reply waits a little so that the progress
// notification can be seen and photographed.
const MODEL_SCRIPT = {
  fixer: [
    { content: fence("calc.py", FIXED["calc.py"]), delay: 2.5 },
    { content: fence("shout.py", FIXED["shout.py"]), delay: 1 },
    { content: fence("slow.py", "def double(n):\n    return n * 2\n"), delay: 60 },
  ],
  helper: ["Nothing to add."],
};

function git(cwd, ...args) {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
}

/** Records, for every pytest run, the interpreter's prefix and VIRTUAL_ENV (one JSON line each). */
const conftest = (log) =>
  `import json, os, sys\n\nif not os.environ.get("E2E_HARNESS"):  # the test's own checks are not logged\n` +
  `    with open(${JSON.stringify(log)}, "a") as f:\n` +
  `        f.write(json.dumps({"prefix": sys.prefix, "virtual_env": os.environ.get("VIRTUAL_ENV")}) + "\\n")\n`;

/**
 * The project's own `.venv`, as `python -m venv .venv && .venv/bin/pip install micro-agent pytest` leaves
 * it: a real venv whose site-packages reach E2E_PYTHON's (where micro-agent and pytest are installed),
 * and a `bin/micro-agent` script like pip writes. No network needed.
 */
function makeVenv(venv) {
  const made = spawnSync(PYTHON, ["-m", "venv", "--without-pip", venv], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`python -m venv: ${made.stderr}`);
  const purelib = spawnSync(PYTHON, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).stdout.trim();
  const lib = path.join(venv, "lib");
  const site = path.join(lib, fs.readdirSync(lib).find((d) => d.startsWith("python")), "site-packages");
  fs.writeFileSync(path.join(site, "from_e2e_python.pth"), `import site; site.addsitedir(${JSON.stringify(purelib)})\n`);
  const script = path.join(venv, "bin", "micro-agent");
  fs.writeFileSync(script, `#!${venv}/bin/python\nimport sys\nfrom micro_agent_cli.main import main\nsys.exit(main())\n`);
  fs.chmodSync(script, 0o755);
}

function makeProject(ws, testLog) {
  fs.mkdirSync(ws, { recursive: true });
  for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(ws, name), text);
  fs.writeFileSync(path.join(ws, "conftest.py"), conftest(testLog));
  fs.writeFileSync(path.join(ws, ".gitignore"), ".micro-agent/\n__pycache__/\n.pytest_cache/\n.venv/\n");
  git(ws, "init", "-q", "-b", "main");
  git(ws, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "add", ".");
  git(ws, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "-q", "-m", "buggy start");
  makeVenv(path.join(ws, ".venv"));
}

function pytest(ws, testFile) {
  return spawnSync(PYTHON, ["-m", "pytest", "-q", "-p", "no:cacheprovider", testFile],
    { cwd: ws, encoding: "utf8", env: { ...process.env, E2E_HARNESS: "1" } });
}

/** Start tests/model_server.py; resolves with its base URL (first line of its output). */
function startModelServer(scriptPath, logPath, out) {
  const child = spawn(PYTHON, [path.join(REPO, "tests/model_server.py"), "--script", scriptPath, "--log", logPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr.pipe(out);
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once("line", (url) => resolve({ child, url: url.trim() }));
    child.once("exit", (code) => reject(new Error(`model server exited (${code}) before printing its URL`)));
  });
}

function modelCalls(logPath, model) {
  if (!fs.existsSync(logPath)) return 0;
  return fs.readFileSync(logPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.model === model).length;
}

function outputChannelFiles(userData) {
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
  try {
    return walk(path.join(userData, "logs")).filter((f) => f.endsWith("Micro Agent.log"));
  } catch {
    return [];
  }
}

/** The text of the extension's "Micro Agent" output channel so far. */
function outputChannel(userData) {
  return outputChannelFiles(userData).map((f) => fs.readFileSync(f, "utf8")).join("\n");
}

/** The extension's "Micro Agent" output channel (launch line, server stderr, LSP trace) → artifacts. */
function copyOutputChannel(userData) {
  for (const file of outputChannelFiles(userData)) {
    try { fs.copyFileSync(file, path.join(ARTIFACTS, "micro-agent-output.log")); } catch {}
  }
}

// ------------------------------------------------------------------------------------------------

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) fs.rmSync(path.join(ARTIFACTS, f), { recursive: true, force: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ma-vscode-e2e-"));
  const userData = path.join(tmp, "user-data");
  const extDir = path.join(tmp, "extensions");
  const ws = path.join(tmp, "project");
  const home = path.join(tmp, "home");
  const testLog = path.join(tmp, "test-runs.jsonl");
  makeProject(ws, testLog);
  lap(`project with failing tests in ${ws}`);

  const scriptPath = path.join(tmp, "model-script.json");
  const modelLog = path.join(ARTIFACTS, "model-requests.jsonl");
  fs.writeFileSync(scriptPath, JSON.stringify(MODEL_SCRIPT, null, 2));
  const modelOut = fs.createWriteStream(path.join(ARTIFACTS, "model-server.log"));
  const model = await startModelServer(scriptPath, modelLog, modelOut);
  lap(`scripted model server at ${model.url}`);

  fs.mkdirSync(path.join(userData, "User"), { recursive: true });
  fs.writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify({
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": false,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "update.mode": "none",
    "workbench.enableExperiments": false,
    "workbench.tips.enabled": false,
    "chat.commandCenter.enabled": false,
    "files.autoSave": "off",
    "git.enabled": false,
    "editor.minimap.enabled": false,
    "window.commandCenter": false,
    "workbench.colorTheme": "Default Dark Modern",
    ...(SERVER_COMMAND ? { "microAgent.server.command": SERVER_COMMAND } : {}),
    "microAgent.models.artisan": "openai/fixer",
    "microAgent.models.librarian": "openai/helper",
    "microAgent.models.critic": "openai/helper",
    "microAgent.budget.maxIterations": 3,
    "microAgent.trace.server": "verbose",
  }, null, 2));
  fs.writeFileSync(path.join(tmp, "config.yaml"), "auth: none\n"); // keep code-server off ~/.config
  // hermetic: code-server, VS Code and chromium would otherwise write under ~/.config, ~/.local, ~/.cache
  // a desktop session's PATH: no `python` (Debian has none) and no venv on it, whatever ran this test
  const hasPython = (dir) => ["python", "micro-agent"].some((name) => fs.existsSync(path.join(dir, name)));
  const env = {
    ...process.env,
    PATH: (process.env.PATH || "").split(":").filter((dir) => dir && !hasPython(dir)).join(":"),
    HOME: home,
    XDG_CONFIG_HOME: `${home}/.config`,
    XDG_DATA_HOME: `${home}/.local/share`,
    XDG_CACHE_HOME: `${home}/.cache`,
    TMPDIR: path.join(tmp, "t"),
  };
  fs.mkdirSync(env.TMPDIR, { recursive: true });
  const common = ["--config", path.join(tmp, "config.yaml"), "--user-data-dir", userData, "--extensions-dir", extDir];

  const inst = spawnSync("node", [CS, ...common, "--install-extension", VSIX], { encoding: "utf8", env });
  if (inst.status !== 0) throw new Error("install-extension failed: " + inst.stdout + inst.stderr);
  lap("extension installed: " + inst.stdout.trim().split("\n").pop());

  const port = await freePort();
  const serverEnv = {
    ...env,
    // the language server (a child of code-server) calls the scripted model server
    OPENAI_API_BASE: model.url,
    OPENAI_API_KEY: "sk-e2e",
    LITELLM_LOCAL_MODEL_COST_MAP: "True",
    // no PATH of ours and no VSCODE_CLI: the extension host gets the PATH VS Code gives it (a login shell's)
    GIT_AUTHOR_NAME: "e2e", GIT_AUTHOR_EMAIL: "e2e@example.invalid",
    GIT_COMMITTER_NAME: "e2e", GIT_COMMITTER_EMAIL: "e2e@example.invalid",
  };
  const srv = spawn("node", [CS, ...common, "--bind-addr", `127.0.0.1:${port}`, "--auth", "none",
    "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
    "--disable-getting-started-override", ws], { env: serverEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const srvLog = fs.createWriteStream(path.join(ARTIFACTS, "code-server.log"));
  srv.stdout.pipe(srvLog);
  srv.stderr.pipe(srvLog);

  let browser;
  let page;
  let passed = false;
  const shot = async (name) => {
    const file = path.join(ARTIFACTS, name);
    await page.screenshot({ path: file });
    return file;
  };
  try {
    await waitFor(() => httpOk(`http://127.0.0.1:${port}/healthz`), 60000, "code-server /healthz");
    lap("code-server up");
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, env,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on("pageerror", (e) => console.log("pageerror:", e.message));
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
    await page.locator(".monaco-workbench").waitFor({ timeout: 60000 });
    await page.locator(".explorer-folders-view, .explorer-viewlet").first().waitFor({ timeout: 60000 });
    lap("workbench loaded");

    const quickInput = page.locator(".quick-input-widget input");
    const statusItem = page.locator(".statusbar-item").filter({ hasText: "Micro Agent" }).first();
    const toast = (text) => page.locator(".notifications-toasts .notification-toast").filter({ hasText: text }).first();

    async function openFile(file, line) {
      await page.locator(".monaco-workbench").click({ position: { x: 700, y: 5 } }).catch(() => {});
      await page.keyboard.press("Control+P");
      await quickInput.waitFor();
      await quickInput.fill(file);
      await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: file }).first().waitFor();
      await page.keyboard.press("Enter");
      await page.locator(`.tab.active[data-resource-name="${file}"]`).waitFor({ timeout: 20000 });
      await page.locator(".monaco-editor .view-lines").first().waitFor();
      if (line) {
        await page.keyboard.press("Control+G");
        await quickInput.waitFor();
        await page.keyboard.type(String(line));
        await page.keyboard.press("Enter");
      }
    }
    async function runPaletteCommand(title) {
      await page.keyboard.press("F1");
      await quickInput.waitFor();
      await quickInput.fill(`>${title}`);
      await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: title }).first().waitFor();
      await page.keyboard.press("Enter");
    }
    const editorShows = (text) => page.locator(".monaco-editor .view-line").filter({ hasText: text }).first();
    async function saveActiveEditor(file) {
      await page.locator(`.tab.active[data-resource-name="${file}"]`).waitFor({ timeout: 10000 });
      await page.locator(".monaco-editor .view-lines").first().click();
      await page.keyboard.press("Control+S");
      await waitFor(() => fs.readFileSync(path.join(ws, file), "utf8") === FIXED[file], 10000, `${file} saved with the fix`);
    }
    function expectTestsPass(testFile) {
      const result = pytest(ws, testFile);
      if (result.status !== 0) throw new Error(`${testFile} still fails on disk:\n${result.stdout}${result.stderr}`);
      lap(`pytest ${testFile}: ${result.stdout.trim().split("\n").pop()}`);
    }

    // ---- A: the lightbulb ------------------------------------------------------------------
    if (pytest(ws, "test_calc.py").status === 0) throw new Error("test_calc.py should fail before the fix");
    await openFile("test_calc.py", 5); // activates the extension (onLanguage:python)
    await waitFor(async () => (await statusItem.innerText()).length > 0, 60000, "the Micro Agent status bar item");
    lap(`status bar: ${(await statusItem.innerText()).trim()}`);
    // the server runs the test file on open and publishes the failure: wait for its squiggle
    await page.locator(".monaco-editor .squiggly-error").first().waitFor({ timeout: 60000 });
    lap("diagnostic from the failing test shown");
    const fixItem = page.locator(".action-widget .action-item, .action-widget .monaco-list-row").filter({ hasText: "Fix with Micro Agent" }).first();
    await waitFor(async () => {
      await page.keyboard.press("Control+Period");
      try { await fixItem.waitFor({ timeout: 2000 }); return true; } catch { await page.keyboard.press("Escape"); return false; }
    }, 60000, '"Fix with Micro Agent" in the quick fix menu');
    lap('quick fix menu shows "Fix with Micro Agent"');
    await shot("a1-quickfix-menu.png");
    const box = await fixItem.boundingBox(); // a transparent pointer block swallows clicks until the mouse moves
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
    await fixItem.click();
    const progressA = toast("Micro Agent: fixing");
    await progressA.waitFor({ timeout: 15000 });
    await progressA.locator(".monaco-button, .action-label").filter({ hasText: "Cancel" }).first().waitFor({ timeout: 5000 });
    lap(`progress notification with Cancel: ${(await progressA.innerText()).replace(/\s+/g, " ").trim()}`);
    // photograph it once it names the tier, iteration and agent (the README's screenshot)
    await waitFor(async () => (await progressA.innerText()).includes("artisan"), 10000, "the artisan in the progress line").catch(() => {});
    const progressShot = await shot("a2-progress.png");
    await editorShows("return a + b").waitFor({ timeout: 90000 });
    lap("fix landed in the editor (calc.py)");
    await shot("a3-fixed-in-editor.png");
    await saveActiveEditor("calc.py");
    expectTestsPass("test_calc.py");
    await waitFor(async () => (await statusItem.innerText()).includes("$"), 20000, "the last run's cost in the status bar");
    lap(`scenario A passed; status bar: ${(await statusItem.innerText()).trim()}`);
    // the server was found in the project's .venv (no setting, no Python extension), versions agree
    await waitFor(() => outputChannel(userData).includes("Starting the language server (project-venv)"), 10000,
      "the output channel to name the project's venv");
    const channel = outputChannel(userData);
    if (!channel.includes(`${ws}/.venv/bin/micro-agent: found`)) throw new Error(`launch ladder log: ${channel.slice(0, 2000)}`);
    if (channel.includes("but the extension is") || channel.includes("did not report its version")) {
      throw new Error("the extension says the server's version does not match");
    }
    lap("server found in the project's .venv; the extension host's PATH: " +
      ((channel.match(/PATH: no micro-agent in (\S*)/) || [])[1] || "(not logged)"));
    // every test run (tests on open, the run's candidates) ran in that venv
    const runs = fs.readFileSync(testLog, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const outside = runs.filter((r) => r.virtual_env !== path.join(ws, ".venv") || !r.prefix.endsWith(".venv"));
    if (runs.length < 2 || outside.length) throw new Error(`tests ran outside the project's venv: ${JSON.stringify(runs)}`);
    lap(`${runs.length} test runs, all in ${ws}/.venv`);

    // ---- B: the palette ----------------------------------------------------------------------
    await openFile("shout.py");
    await runPaletteCommand("Micro Agent: Fix This File");
    await toast("Micro Agent: fixing").waitFor({ timeout: 15000 });
    lap("progress notification shown for the palette run");
    await shot("b1-progress.png");
    await editorShows("text.upper()").waitFor({ timeout: 90000 });
    lap("fix landed in the editor (shout.py)");
    await saveActiveEditor("shout.py");
    expectTestsPass("test_shout.py");
    lap("scenario B passed");

    // ---- C: Cancel in the notification ------------------------------------------------------
    await openFile("slow.py");
    const callsBefore = modelCalls(modelLog, "fixer");
    await runPaletteCommand("Micro Agent: Fix This File");
    const progressC = toast("Micro Agent: fixing");
    await progressC.waitFor({ timeout: 15000 });
    await waitFor(() => modelCalls(modelLog, "fixer") > callsBefore, 60000, "the run to call the model");
    await shot("c1-before-cancel.png");
    const cancel = progressC.locator(".monaco-button, .action-label").filter({ hasText: "Cancel" }).first();
    const cbox = await cancel.boundingBox();
    await page.mouse.move(cbox.x + cbox.width / 2, cbox.y + cbox.height / 2, { steps: 3 });
    await cancel.click();
    await toast("cancelled").waitFor({ timeout: 30000 });
    lap(`run cancelled: ${(await toast("cancelled").innerText()).replace(/\s+/g, " ").trim()}`);
    await shot("c2-cancelled.png");
    if (fs.readFileSync(path.join(ws, "slow.py"), "utf8") !== FILES["slow.py"]) throw new Error("slow.py changed on disk after cancel");
    const dirty = await page.locator('.tab.active[data-resource-name="slow.py"].dirty').count();
    if (dirty) throw new Error("slow.py was edited in the editor after cancel");
    lap("scenario C passed: nothing changed");

    // ---- D: status bar → run status; the audit log ----------------------------------------------
    await page.keyboard.press("Escape");
    await statusItem.click();
    const runRow = (text) => page.locator(".quick-input-list .monaco-list-row").filter({ hasText: text }).first();
    await runRow("slow.py").waitFor({ timeout: 15000 });
    const statusRows = (await page.locator(".quick-input-list").innerText()).replace(/\s+/g, " ");
    if (!/slow\.py.*cancelled/.test(statusRows)) throw new Error(`run status does not show the cancelled run: ${statusRows}`);
    lap(`run status: ${statusRows.trim()}`);
    await shot("d1-run-status.png");
    await page.keyboard.press("Escape");
    await runPaletteCommand("Micro Agent: Open Audit Log");
    for (const text of ["calc.py", "shout.py", "interrupted"]) await editorShows(text).waitFor({ timeout: 30000 });
    lap("audit log shows the three runs");
    await shot("d2-audit-log.png");

    // ---- E: a server command that does not exist → restart, one notification that says what to do ----
    // workspace settings: VS Code watches the workspace folder (the user settings file is not re-read here)
    fs.mkdirSync(path.join(ws, ".vscode"), { recursive: true });
    fs.writeFileSync(path.join(ws, ".vscode", "settings.json"), JSON.stringify({ "microAgent.server.command": ["/nonexistent/micro-agent", "lsp"] }));
    const broken = toast("/nonexistent/micro-agent");
    await broken.waitFor({ timeout: 30000 });
    await broken.locator(".monaco-button").filter({ hasText: "Open Setting" }).first().waitFor({ timeout: 5000 });
    const brokenText = (await broken.innerText()).replace(/\s+/g, " ").trim();
    if (!brokenText.includes("pip install micro-agent")) throw new Error(`the notification does not say how to install: ${brokenText}`);
    await sleep(1000);
    const errorToasts = await page.locator(".notifications-toasts .notification-toast").filter({ hasText: "Micro Agent" }).filter({ hasText: /server|connection/ }).count();
    if (errorToasts !== 1) throw new Error(`expected one notification about the server, saw ${errorToasts}`);
    lap(`server missing, one notification: ${brokenText.slice(0, 200)}`);
    await shot("e1-server-missing.png");

    if (process.env.E2E_UPDATE_IMAGES === "1") {
      fs.copyFileSync(progressShot, path.join(EXT_DIR, "images", "progress.png"));
      fs.copyFileSync(path.join(ARTIFACTS, "a1-quickfix-menu.png"), path.join(EXT_DIR, "images", "quickfix.png"));
      lap("README screenshots updated: images/progress.png, images/quickfix.png");
    }
    passed = true;
  } catch (error) {
    console.error("FAIL:", error && error.stack ? error.stack : error);
    if (page) await shot("failure.png").catch(() => {});
  } finally {
    if (browser) await browser.close().catch(() => {});
    copyOutputChannel(userData);
    try { process.kill(-srv.pid, "SIGTERM"); } catch {}
    model.child.kill("SIGTERM");
    if (passed && process.env.E2E_KEEP !== "1") fs.rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept for inspection: ${tmp} (logs: ${ARTIFACTS})`);
  }
  lap(passed ? "PASS" : "FAIL");
  return passed ? 0 : 1;
}

main().then((code) => process.exit(code), (error) => { console.error(error); process.exit(1); });
