import * as assert from "node:assert/strict";
import { versionMismatch } from "../src/version";

describe("versionMismatch: the server's serverInfo.version against the extension's", () => {
  it("is quiet when they match (a leading v is ignored)", () => {
    assert.equal(versionMismatch("0.1.0", { name: "micro-agent", version: "0.1.0" }), undefined);
    assert.equal(versionMismatch("0.1.0", { name: "micro-agent", version: "v0.1.0" }), undefined);
  });

  it("names both versions and says how to fix a mismatch", () => {
    const message = versionMismatch("0.2.0", { name: "micro-agent", version: "0.1.0" });
    assert.ok(message);
    assert.match(message, /server is version 0\.1\.0 but the extension is 0\.2\.0/);
    assert.match(message, /pip install -U micro-agent/);
  });

  it("says so when the server reports no version", () => {
    assert.match(versionMismatch("0.2.0", { name: "micro-agent" }) ?? "", /did not report its version/);
    assert.match(versionMismatch("0.2.0", undefined) ?? "", /did not report its version/);
  });
});
