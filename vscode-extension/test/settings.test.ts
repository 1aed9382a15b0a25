import * as assert from "node:assert/strict";
import {
  answerConfiguration,
  initializationOptions,
  readSettings,
  substituteVariables,
  withSelectedInterpreter,
} from "../src/settings";

/** A reader over a flat map of `microAgent.*` keys, like WorkspaceConfiguration.get. */
const reader = (values: Record<string, unknown>) => (key: string) => values[key];

/** The defaults package.json declares. */
const DEFAULTS = {
  "models.artisan": "",
  "models.librarian": "",
  "models.critic": "",
  "budget.maxCostUsd": null,
  "budget.maxDurationMinutes": null,
  "budget.maxIterations": null,
  tierConfig: "",
  testCommand: "",
  runTestsOnSave: true,
  "server.command": [],
};

describe("settings → initializationOptions", () => {
  it("sends only what is set, so micro-agent.yml and the server defaults fill the rest", () => {
    assert.deepEqual(initializationOptions(readSettings(reader(DEFAULTS))), { microAgent: { runTestsOnSave: true } });
  });

  it("nests models and budget as the server expects", () => {
    const settings = readSettings(
      reader({
        ...DEFAULTS,
        "models.artisan": " openai/fixer ",
        "models.critic": "gpt-4.1-mini",
        "budget.maxCostUsd": 0.5,
        "budget.maxIterations": 12,
        tierConfig: "${workspaceFolder}/tiers.json",
        testCommand: "python -m pytest -q",
        runTestsOnSave: false,
      }),
      { workspaceFolder: "/proj" },
    );
    assert.deepEqual(initializationOptions(settings), {
      microAgent: {
        models: { artisan: "openai/fixer", critic: "gpt-4.1-mini" },
        budget: { maxCostUsd: 0.5, maxIterations: 12 },
        tierConfig: "/proj/tiers.json",
        testCommand: "python -m pytest -q",
        runTestsOnSave: false,
      },
    });
  });

  it("passes out-of-range numbers through for the server to name (it validates once, for every editor)", () => {
    const settings = readSettings(reader({ ...DEFAULTS, "budget.maxCostUsd": -1, "budget.maxIterations": "7" }));
    assert.deepEqual(settings.server.budget, { maxCostUsd: -1, maxIterations: 7 });
  });

  it("reads the server command as an array, substituting variables; a plain string is one word", () => {
    const vars = { workspaceFolder: "/proj", userHome: "/home/u" };
    const command = ["${workspaceFolder}/.venv/bin/micro-agent", "lsp", ""];
    assert.deepEqual(readSettings(reader({ ...DEFAULTS, "server.command": command }), vars).serverCommand, [
      "/proj/.venv/bin/micro-agent",
      "lsp",
    ]);
    assert.deepEqual(readSettings(reader({ ...DEFAULTS, "server.command": "~/bin/ma-lsp" }), vars).serverCommand, ["/home/u/bin/ma-lsp"]);
  });
});

describe("the project's interpreter", () => {
  it("reads microAgent.interpreter (variables substituted) and projectEnv", () => {
    const settings = readSettings(
      reader({ ...DEFAULTS, interpreter: "${workspaceFolder}/.venv/bin/python", projectEnv: false }),
      { workspaceFolder: "/ws" },
    );
    assert.equal(settings.server.interpreter, "/ws/.venv/bin/python");
    assert.equal(settings.server.projectEnv, false);
  });

  it("passes the Python extension's interpreter in a single-folder window, unless the setting names one", () => {
    const plain = readSettings(reader(DEFAULTS));
    assert.equal(withSelectedInterpreter(plain, ["/ws/.venv/bin/python"], 1).server.interpreter, "/ws/.venv/bin/python");
    const set = readSettings(reader({ ...DEFAULTS, interpreter: "/mine/python" }));
    assert.equal(withSelectedInterpreter(set, ["/ws/.venv/bin/python"], 1).server.interpreter, "/mine/python");
  });

  it("passes nothing for a multi-root window, a `conda run` command, or no selection", () => {
    const plain = readSettings(reader(DEFAULTS));
    assert.equal(withSelectedInterpreter(plain, ["/ws/.venv/bin/python"], 2).server.interpreter, undefined);
    assert.equal(withSelectedInterpreter(plain, ["conda", "run", "-n", "x", "python"], 1).server.interpreter, undefined);
    assert.equal(withSelectedInterpreter(plain, undefined, 1).server.interpreter, undefined);
  });
});

describe("substituteVariables", () => {
  it("replaces ${workspaceFolder}, ${userHome} and a leading ~ only", () => {
    const vars = { workspaceFolder: "/w", userHome: "/h" };
    assert.equal(substituteVariables("~/x/${workspaceFolder}/a~b/${userHome}", vars), "/h/x//w/a~b//h");
    assert.equal(substituteVariables("${workspaceFolder}/x", {}), "${workspaceFolder}/x");
  });
});

describe("workspace/configuration answers", () => {
  const settings = readSettings(reader({ ...DEFAULTS, "models.artisan": "openai/fixer", testCommand: "pytest" }));

  it("answers the microAgent section and its sub-sections, and leaves other sections to the client", () => {
    const scopes: (string | undefined)[] = [];
    const answers = answerConfiguration(
      [{ section: "microAgent", scopeUri: "file:///proj/a.py" }, { section: "microAgent.models" }, { section: "python" }, {}],
      (scope) => {
        scopes.push(scope);
        return settings;
      },
    );
    assert.deepEqual(answers, [
      { models: { artisan: "openai/fixer" }, testCommand: "pytest", runTestsOnSave: true },
      { artisan: "openai/fixer" },
      undefined,
      undefined,
    ]);
    assert.deepEqual(scopes, ["file:///proj/a.py", undefined]);
  });

  it("answers null for a sub-section that is not set", () => {
    assert.deepEqual(answerConfiguration([{ section: "microAgent.budget" }], () => settings), [null]);
  });
});
