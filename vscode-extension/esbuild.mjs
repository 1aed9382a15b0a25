// Bundles the extension (src/extension.ts + vscode-languageclient) into out/extension.js,
// or with --tests the unit tests (test/*.test.ts, pure modules only) into out/test/ for mocha.
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");
const tests = process.argv.includes("--tests");

const common = { bundle: true, format: "cjs", platform: "node", target: "node18", logLevel: tests ? "warning" : "info" };
const options = tests
  ? {
      ...common,
      entryPoints: readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`),
      outdir: "out/test",
      external: ["vscode", "mocha"],
      sourcemap: "inline",
    }
  : {
      ...common,
      entryPoints: ["src/extension.ts"],
      outfile: "out/extension.js",
      external: ["vscode"],
      sourcemap: !production,
      minify: production,
    };

const context = await esbuild.context(options);
if (watch) {
  await context.watch();
} else {
  await context.rebuild();
  await context.dispose();
}
