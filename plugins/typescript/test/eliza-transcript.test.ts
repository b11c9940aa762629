/**
 * Replays the shared transcript (docs/vectors/eliza-transcript.json) through the TypeScript
 * engine: every session on a fresh instance, every reply compared exactly. Runs under
 * `node --test` (Node 22) and `bun test`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import transcript from "../../../docs/vectors/eliza-transcript.json" with { type: "json" };
import doctor from "../../../docs/vectors/eliza-doctor.json" with { type: "json" };
import { Eliza, ScriptError, tokenize } from "../fixtures/eliza-classic/engine.ts";

interface Exchange {
  readonly input: string;
  readonly reply: string;
}
interface Session {
  readonly name: string;
  readonly exchanges: readonly Exchange[];
}

const sessions: readonly Session[] = transcript.sessions;

test("every transcript session replays exactly on a fresh instance", () => {
  let checked = 0;
  for (const session of sessions) {
    const eliza = new Eliza();
    session.exchanges.forEach((exchange, step) => {
      assert.equal(
        eliza.respond(exchange.input),
        exchange.reply,
        `session ${session.name} step ${step}: input ${JSON.stringify(exchange.input)}`,
      );
      checked++;
    });
  }
  assert.ok(checked >= 60, `only ${checked} exchanges checked`);
});

test("the seed's demo reply", () => {
  assert.equal(new Eliza().respond("I am feeling sad"), "I am sorry to hear you are sad.");
});

test("greeting comes from the script", () => {
  assert.equal(Eliza.greeting(), "How do you do. Please tell me your problem.");
  assert.equal(Eliza.greeting(), transcript.greeting);
});

test("instances do not share state", () => {
  const first = new Eliza();
  const second = new Eliza();
  assert.equal(first.respond("I am feeling sad"), "I am sorry to hear you are sad.");
  assert.notEqual(first.respond("I am feeling sad"), "I am sorry to hear you are sad.");
  assert.equal(second.respond("I am feeling sad"), "I am sorry to hear you are sad.");
});

test("tokenize folds ASCII only and splits clauses", () => {
  const pre = new Map([["i'm", ["i", "am"]]]);
  assert.deepEqual(tokenize("I'm SÄD, but 'OK'!  x", pre), [["i", "am", "sÄd"], ["ok"], ["x"]]);
  assert.deepEqual(tokenize("", pre), []);
  assert.deepEqual(tokenize(" .,;:!? ", pre), []);
  const long = Array.from({ length: 100 }, (_, i) => `w${i}`);
  assert.deepEqual(tokenize(long.join(" "), new Map()), [long.slice(0, 64)]);
});

test("astral characters pass through whole", () => {
  assert.equal(new Eliza().respond("I need 😀"), "What would it mean to you if you got 😀?");
});

type Mutable = { [key: string]: any };
const mutations: ReadonlyArray<readonly [(s: Mutable) => void, string]> = [
  [(s) => s["keywords"][0].rules[0].reassembly.push("goto nowhere"), "nowhere"],
  [(s) => s["keywords"][0].rules[0].reassembly.push("say {9}"), "{9}"],
  [(s) => s["keywords"].push(structuredClone(s["keywords"][0])), "duplicate keyword"],
  [(s) => (s["keywords"][0].rules[0].pattern = "* @nogroup *"), "@nogroup"],
  [(s) => (s["memory"].keyword = "zzz"), "$.memory.keyword"],
  [(s) => (s["none"] = []), "$.none"],
  [(s) => (s["keywords"][1].rank = "5"), "$.keywords[1].rank"],
  [(s) => s["memory"].reassembly.push("newkey"), "$.memory.reassembly"],
];

test("bad scripts are rejected with their location", () => {
  for (const [mutate, needle] of mutations) {
    const bad: Mutable = structuredClone(doctor);
    mutate(bad);
    assert.throws(
      () => new Eliza(bad),
      (e: unknown) => e instanceof ScriptError && e.message.includes(needle),
      needle,
    );
  }
  assert.doesNotThrow(() => new Eliza(structuredClone(doctor)));
});
