/**
 * How loadTsPlugin finds the runtime serving a TypeScript plugin (protocol.md 7.1): with a PATH
 * holding only a `node` that is too old and no node_modules/.bin beside the bridge, Bun on PATH
 * serves the plugin; without Bun, the load fails with the common sentence naming the old node.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PluginLoadError } from "../src/errors.ts";
import { findTsRuntime, loadTsPlugin } from "../src/loaders.ts";
import { CONFORMANCE_TS, TEST_DIR } from "./helpers.ts";

const REAL_BUN = realpathSync(join(TEST_DIR, "../node_modules/.bin/bun"));

/** A bridge copied where no node_modules is above it, and a PATH directory with a Node 20 (and Bun). */
function oldNodeOnPath(withBun: boolean): { bridge: string; bin: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "js-runtime-"));
  cpSync(join(TEST_DIR, "../src"), join(dir, "ts/src"), { recursive: true });
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "node"), "#!/bin/sh\necho v20.0.0\n");
  chmodSync(join(bin, "node"), 0o755);
  if (withBun) symlinkSync(REAL_BUN, join(bin, "bun"));
  return { bridge: join(dir, "ts/src/bridge-server.ts"), bin, env: { PATH: bin, ELIZAOS_NODE: "", ELIZAOS_BUN: "" } };
}

describe("the runtime serving a TypeScript plugin", () => {
  it("falls back to Bun on PATH when the node on PATH is older than 22.6", async () => {
    const { bridge, bin, env } = oldNodeOnPath(true);
    assert.deepEqual(findTsRuntime("node", bridge, { env }), { executable: join(bin, "bun"), runtime: "bun" });
    const plugin = await loadTsPlugin(CONFORMANCE_TS, { bridge, env });
    try {
      assert.equal(plugin.name, "conformance-fixture");
    } finally {
      await plugin.close();
    }
  });

  it("without Bun, fails with the common sentence naming the old node", async () => {
    const { bridge, bin, env } = oldNodeOnPath(false);
    await assert.rejects(loadTsPlugin(CONFORMANCE_TS, { bridge, env }), (e: unknown) => {
      assert.ok(e instanceof PluginLoadError);
      assert.ok(e.message.includes(`TypeScript plugins need Node >= 22.6 or Bun; found node v20.0.0 at ${join(bin, "node")}; set ELIZAOS_NODE or install node@22`), e.message);
      return true;
    });
  });

  it("with no node at all, says (none); runtime bun without Bun names ELIZAOS_BUN", () => {
    const { bridge, env } = oldNodeOnPath(false);
    const empty = { ...env, PATH: "/nonexistent" };
    assert.throws(() => findTsRuntime("node", bridge, { env: empty }), /found node \(none\) at node; set ELIZAOS_NODE/);
    assert.throws(() => findTsRuntime("bun", bridge, { env }), /ELIZAOS_BUN/);
  });

  it("an explicit binary is used as given, without asking its version", () => {
    const { bridge, env } = oldNodeOnPath(true);
    assert.deepEqual(findTsRuntime("node", bridge, { env, executable: "/opt/node20/bin/node" }), { executable: "/opt/node20/bin/node", runtime: "node" });
    assert.deepEqual(findTsRuntime("node", bridge, { env: { ...env, ELIZAOS_NODE: "/opt/n/node" } }), { executable: "/opt/n/node", runtime: "node" });
  });
});
