import * as assert from "node:assert/strict";
import { Serialized } from "../src/serialize";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stand-in for the session's stop-then-start cycle, counting the clients alive at once. */
function fakeSession(startMs = 20) {
  const state = { alive: 0, mostAlive: 0, started: 0, clients: [] as { stopped: boolean }[] };
  const cycle = async () => {
    const previous = state.clients[state.clients.length - 1];
    if (previous && !previous.stopped) {
      await tick(5); // stopping takes a moment
      previous.stopped = true;
      state.alive -= 1;
    }
    await tick(startMs); // so does starting
    state.clients.push({ stopped: false });
    state.started += 1;
    state.alive += 1;
    state.mostAlive = Math.max(state.mostAlive, state.alive);
  };
  return { state, lifecycle: new Serialized(cycle) };
}

describe("Serialized: restarts one at a time", () => {
  it("two quick restarts never start two clients at once", async () => {
    const { state, lifecycle } = fakeSession();
    await lifecycle.run(); // the first start
    await Promise.all([lifecycle.run(), lifecycle.run()]);
    assert.equal(state.mostAlive, 1);
    assert.equal(state.alive, 1);
  });

  it("requests made while one runs share a single follow-up", async () => {
    const { state, lifecycle } = fakeSession();
    const first = lifecycle.run();
    const followUps = [lifecycle.run(), lifecycle.run(), lifecycle.run()];
    assert.equal(followUps[0], followUps[1]);
    await Promise.all([first, ...followUps]);
    assert.equal(state.started, 2); // the running one, then one more that sees the newest settings
    assert.equal(state.mostAlive, 1);
  });

  it("a failed run does not block the next, and idle() waits for everything queued", async () => {
    let calls = 0;
    const lifecycle = new Serialized(async () => {
      calls += 1;
      await tick(5);
      if (calls === 1) throw new Error("server did not start");
    });
    const first = lifecycle.run();
    const second = lifecycle.run();
    await assert.rejects(first, /did not start/);
    await second;
    assert.equal(calls, 2);
    void lifecycle.run();
    await lifecycle.idle();
    assert.equal(calls, 3);
  });
});
