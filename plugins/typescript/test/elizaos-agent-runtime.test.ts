/**
 * The real `AgentRuntime` of `@elizaos/core` 1.7.2 (pinned in published/) as the TS host's
 * runtime: a Python plugin, called from it, calls back into it across the pipe (protocol.md 11).
 * Without a database adapter the runtime answers what lives in memory (its character's settings,
 * its agentId); methods that log to or read the database (useModel, getCache, getRoom ...) need an
 * adapter, which @elizaos/core does not provide offline, so they come back as the runtime's own
 * error, named, inside the plugin's handler.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadPythonPlugin } from "../src/index.ts";
import { PKG_DIR, PYTHON, PY_FIXTURES, requireFile } from "./helpers.ts";

const CORE = requireFile(
  join(PKG_DIR, "published/node_modules/@elizaos/core/dist/node/index.node.js"),
  "install the pinned published packages with: cd plugins/typescript/published && npm ci",
);

interface CallOutcome {
  ok?: unknown;
  error?: { code: number | null; message: string };
}

describe("@elizaos/core AgentRuntime as the host's runtime", () => {
  it("a Python plugin reads the agent's settings and id from it, and gets its errors by name", async () => {
    const core = (await import(pathToFileURL(CORE).href)) as {
      AgentRuntime: new (options: { character: Record<string, unknown> }) => { agentId: string };
    };
    const runtime = new core.AgentRuntime({
      character: { name: "Eliza", bio: ["A test agent"], settings: { GREETING: "hello from core" } },
    });
    const plugin = await loadPythonPlugin(join(PY_FIXTURES, "conformance_plugin.py"), { python: PYTHON });
    try {
      const calls = [
        { method: "getSetting", args: ["GREETING"] },
        { method: "getSetting", args: ["MISSING"] },
        { method: "getCache", args: ["key"] },
      ];
      const result = await plugin.actions.find((a) => a.name === "runtime")!.handler(
        runtime as never,
        { content: { text: "hi" } },
        {},
        { calls },
      );
      assert.equal(result.success, true);
      assert.deepEqual(result.values, { agentId: runtime.agentId });
      const results = (result.data as unknown as { results: CallOutcome[] }).results;
      assert.deepEqual(results[0], { ok: "hello from core" });
      assert.deepEqual(results[1], { ok: null });
      assert.equal(results[2]!.error?.code, -32000, JSON.stringify(results[2]));
    } finally {
      await plugin.close();
    }
  });
});
