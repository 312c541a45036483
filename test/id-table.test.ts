/**
 * runtime/id-table.ts, the table that holds requests in flight (host) and their cancel hooks and
 * pending work (guest): it must answer exactly as a Map would, whatever the order entries come
 * and go in. Runs on Node, Bun and Deno.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { IdTable } from "../runtime/id-table.ts";

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function sameAs(table: IdTable<string>, map: Map<number, string>, at: string): void {
  assert.is(table.size, map.size, `${at}: size`);
  const byKey = (a: [number, string], b: [number, string]) => a[0] - b[0];
  assert.equal(table.entries().sort(byKey), [...map.entries()].sort(byKey), `${at}: entries`);
}

test("requests answered out of order, as the host's table sees them: the same answers as a Map", () => {
  const next = random(1);
  const table = new IdTable<string>();
  const map = new Map<number, string>();
  let id = 0;
  for (let step = 0; step < 20_000; step++) {
    // up to ~300 in flight, answered in any order
    if (map.size === 0 || (next() < 0.52 && map.size < 300)) {
      id++;
      table.set(id, `r${id}`);
      map.set(id, `r${id}`);
    } else {
      const keys = [...map.keys()];
      const key = keys[Math.floor(next() * keys.length)]!;
      assert.ok(table.delete(key), `delete ${key}`);
      map.delete(key);
    }
    const probe = Math.floor(next() * (id + 2));
    assert.is(table.get(probe), map.get(probe), `get ${probe} at step ${step}`);
    assert.is(table.has(probe), map.has(probe));
    if (step % 997 === 0) sameAs(table, map, `step ${step}`);
  }
  sameAs(table, map, "end");
});

test("a guest's keys (a function's slot times 2^32 plus its request id) do not mix up slots that share ids", () => {
  const next = random(7);
  const table = new IdTable<string>();
  const map = new Map<number, string>();
  for (let step = 0; step < 10_000; step++) {
    const slot = Math.floor(next() * 40);
    const key = slot * 2 ** 32 + Math.floor(next() * 64);
    if (next() < 0.5) {
      table.set(key, `s${slot}`);
      map.set(key, `s${slot}`);
    } else assert.is(table.delete(key), map.delete(key), `delete ${key}`);
    assert.is(table.get(key), map.get(key));
  }
  sameAs(table, map, "end");
  // a whole slot goes away (a packed function unloaded)
  for (const [key] of table.entries()) if (Math.floor(key / 2 ** 32) === 3) table.delete(key);
  for (const key of [...map.keys()]) if (Math.floor(key / 2 ** 32) === 3) map.delete(key);
  sameAs(table, map, "slot 3 gone");
});

test("in a table that never grows, runs of colliding keys that wrap past its end are still found after deletions", () => {
  const next = random(3);
  const table = new IdTable<string>(8); // 16 slots, grows past 8 entries: kept at 7 at most
  const map = new Map<number, string>();
  for (let step = 0; step < 20_000; step++) {
    const key = Math.floor(next() * 40);
    if (map.size < 7 && next() < 0.5) {
      table.set(key, `k${key}`);
      map.set(key, `k${key}`);
    } else assert.is(table.delete(key), map.delete(key), `delete ${key} at step ${step}`);
    for (const probe of map.keys()) assert.is(table.get(probe), map.get(probe), `get ${probe} at step ${step}`);
  }
  sameAs(table, map, "end");
});

test("entries are listed in key order, not in the order of the slots they sit in", () => {
  const table = new IdTable<string>();
  const keys = [9, 2 ** 32 + 1, 5, 77, 1, 3 * 2 ** 32];
  for (const k of keys) table.set(k, `k${k}`);
  assert.equal(
    table.entries().map((e) => e[0]),
    [...keys].sort((a, b) => a - b),
  );
});

test("a value set again replaces the old one; keys() and values() list what is there", () => {
  const table = new IdTable<string>();
  table.set(5, "a");
  table.set(5, "b");
  table.set(6, "c");
  assert.is(table.size, 2);
  assert.is(table.get(5), "b");
  assert.equal(table.keys().sort(), [5, 6]);
  assert.equal(table.values().sort(), ["b", "c"]);
  assert.is(table.delete(7), false);
});

test("a key that is not a non-negative safe integer is refused with a RangeError that names it", () => {
  const table = new IdTable<string>();
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
    assert.throws(
      () => table.set(bad, "x"),
      (e: unknown) => e instanceof RangeError && e.message.includes(String(bad)),
    );
  }
  assert.is(table.size, 0);
});

test.run();
