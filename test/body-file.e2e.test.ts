/**
 * The body file seen from a function (adapters/body-file.ts): node and bun children of a host
 * on this runtime get it at descriptor 3 and large bodies cross it intact; a deno child, a
 * sandboxed function with a write grant and a host with LANES_BODY_FILE=off keep their bodies in
 * the pipe, intact too. A sandboxed function cannot grow the file past its cap, and one that
 * scribbles over all of it spoils nothing but its own bodies. Needs bubblewrap ("required").
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertSameBytes } from "./helpers/bytes.ts";
import { expectJson } from "./helpers/chaos.ts";
import { startTestHost, type TestHost } from "./helpers/host.ts";

const probe = (runtime: string, extra: Record<string, unknown> = {}) => ({ entry: "body-file-probe.ts", lane: "process", runtime, instances: { max: 1 }, ...extra });
const functions = {
  "probe-node": probe("node"),
  "probe-bun": probe("bun"),
  "probe-deno": probe("deno"),
  "probe-deno-open": probe("deno", { sandbox: "off" }),
  "probe-writer": probe("node", { permissions: { write: ["out.txt"] } }),
  bystander: probe("bun"),
};

/** A body only this call has, over the 64 KiB that travel inside a frame. */
function bodyFor(i: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(300_000 + i * 1_001);
  for (let at = 0; at < b.byteLength; at++) b[at] = (at * 7 + i * 13) & 0xff;
  return b;
}

async function echoes(h: TestHost, name: string, i: number): Promise<void> {
  const body = bodyFor(i);
  const res = await h.fetch(`/${name}`, { method: "POST", body });
  assert.is(res.status, 200, `${name}: echo ${i}`);
  assertSameBytes(new Uint8Array(await res.arrayBuffer()), body, `${name}: echo ${i} byte for byte`);
}

async function hasBodyFile(h: TestHost, name: string): Promise<boolean> {
  return (await expectJson<{ bodyFile: boolean }>(h.fetch(`/${name}?do=look`))).bodyFile;
}

// One host serves the first three tests: each asserts what its requests get, whatever the
// others did to their children before (a host and its six children cost most of the suite's CPU)
let shared: TestHost;
test.before(async () => {
  shared = await startTestHost(functions, { top: { sandbox: "required" }, extraFiles: { "out.txt": "" } });
});
test.after(async () => {
  await shared?.stop();
});

test("node and bun children read their large bodies from the file; deno children and a function with a write grant from the pipe", async () => {
  const h = shared;
  assert.is(await hasBodyFile(h, "probe-node"), true, "a node child has the file");
  assert.is(await hasBodyFile(h, "probe-bun"), true, "a bun child has the file");
  assert.is(await hasBodyFile(h, "probe-deno"), true, "a sandboxed deno child has the file, where the sandbox binds it");
  assert.is(await hasBodyFile(h, "probe-deno-open"), false, "a deno child outside the sandbox has none");
  assert.is(await hasBodyFile(h, "probe-writer"), false, "a function with a write grant has none");
  for (const name of ["probe-node", "probe-bun", "probe-deno", "probe-deno-open", "probe-writer"]) {
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => echoes(h, name, i)));
  }
});

/** Refused with EFBIG, or the child killed by SIGXFSZ (then the request is a 502). */
async function refused(h: TestHost, path: string): Promise<void> {
  const res = await h.fetch(path);
  if (res.status === 200) assert.equal(await res.json(), { outcome: "refused", code: "EFBIG" }, path);
  else assert.is(res.status, 502, `${path}: refused or crashed, not allowed`);
}

test("a sandboxed function cannot grow the file past its cap, nor write a file of its own past memoryMb; it and the others serve on", async () => {
  const h = shared;
  for (const name of ["probe-node", "probe-bun", "probe-deno"]) {
    await refused(h, `/${name}?do=grow`);
    await refused(h, `/${name}?do=sparse`);
    await echoes(h, name, 1);
  }
  // a bun child reaches libc through bun:ffi, but cannot lift the cap (no CAP_SYS_RESOURCE outside its user namespace)
  assert.equal(await expectJson(h.fetch("/probe-bun?do=raise")), { outcome: "refused" });
  await refused(h, "/probe-bun?do=sparse");
  await echoes(h, "bystander", 2);
  // a function that may write files of its own has no such cap (and no body file)
  assert.equal(await expectJson(h.fetch("/probe-writer?do=sparse")), { outcome: "allowed" });
});

test("a function that scribbles over the whole file on every request still gets and gives its bodies intact, and spoils no one else's", async () => {
  const h = shared;
  for (const name of ["probe-node", "probe-bun", "probe-deno"]) {
    await echoes(h, name, 0);
    // 12 bodies of ~300 KB: more than a 2 MiB ring, so the host reads the header's read
    // position (garbage each time) and must neither trust it nor give up on the function
    for (let i = 1; i <= 12; i++) {
      const body = bodyFor(i);
      const res = await h.fetch(`/${name}?do=scribble`, { method: "POST", body });
      assert.is(res.status, 200, `${name}: scribbler's request ${i} answered`);
      assertSameBytes(new Uint8Array(await res.arrayBuffer()), body, `${name}: scribbler's request ${i}, its answer written after the scribble`);
    }
    await echoes(h, name, 13);
  }
  await Promise.all([0, 1, 2].map((i) => echoes(h, "bystander", i)));
});

test("LANES_BODY_FILE=off: every child's bodies cross the pipe, intact", async () => {
  process.env.LANES_BODY_FILE = "off";
  let h: TestHost | undefined;
  try {
    h = await startTestHost(functions, { top: { sandbox: "required" }, extraFiles: { "out.txt": "" } });
    for (const name of ["probe-node", "probe-bun", "probe-deno"]) {
      assert.is(await hasBodyFile(h, name), false, `${name}: no file`);
      await refused(h, `/${name}?do=sparse`);
      await Promise.all([0, 1, 2].map((i) => echoes(h!, name, i)));
    }
  } finally {
    delete process.env.LANES_BODY_FILE;
    await h?.stop();
  }
});

test.run();
