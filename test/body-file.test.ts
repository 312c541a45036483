/**
 * The body file (runtime/channel/body-file.ts) on this runtime's own positional reads and writes
 * of a real /dev/shm file, as a host and its child use it: bodies arrive intact however the ring
 * wraps, a full ring or a body too large says "use the pipe", and what the other side wrote is
 * checked before the host trusts it (a child can write anywhere in the file).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, ftruncateSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertSameBytes, patterned } from "./helpers/bytes.ts";
import { bodyFileForTest } from "./helpers/body-file.ts";
import { removeLeftovers, type HostBodyFile } from "../adapters/body-file.ts";
import { BodyFile, FILE_BODY_MAX, FILE_REF_BYTES, RING_BYTES, type FileIo } from "../runtime/channel/body-file.ts";
import { LanesError } from "../runtime/errors.ts";

function pair(): { file: HostBodyFile; host: BodyFile; guest: BodyFile; childFd: number } {
  const { file, childFd, childIo } = bodyFileForTest();
  const host = BodyFile.host(file.io);
  // before the guest has said it reads the file, the host writes nothing there
  assert.is(host.put(new Uint8Array(100_000)), "pipe", "no body in the file before the guest reads it");
  const guest = BodyFile.guest(childIo);
  if (!guest) throw new Error("the guest could not say it reads the file");
  return { file, host, guest, childFd };
}

function done(p: ReturnType<typeof pair>): void {
  p.file.close();
  closeSync(p.childFd);
}

const fresh = (n: number) => new Uint8Array(n);

/** The reference `put` gave (it must have put the body in the file). */
function inFile(put: Uint8Array | "full" | "pipe"): Uint8Array {
  if (typeof put === "string") throw new Error(`"${put}": the body should have gone in the file`);
  return put;
}

function malformed(fn: () => unknown, what: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, LanesError);
    assert.match((e as Error).message, what);
    return;
  }
  assert.unreachable("the reference was accepted");
}

test("bodies cross both ways intact, the ring wrapping many times over", () => {
  const p = pair();
  try {
    // sizes that do not divide the ring, so bodies land at every offset and skip its end
    const sizes = [65_537, 300_000, 1_000_000, 777_777, FILE_BODY_MAX];
    for (let i = 0; i < 40; i++) {
      const body = patterned(sizes[i % sizes.length]!, i);
      const ref = inFile(p.host.put(body));
      assertSameBytes(p.guest.take(ref, fresh), body, `body ${i} toward the guest`);
      const back = patterned(sizes[(i + 2) % sizes.length]!, i + 100);
      const ref2 = inFile(p.guest.put(back));
      assertSameBytes(p.host.take(ref2, fresh), back, `answer ${i} toward the host`);
    }
  } finally {
    done(p);
  }
});

test("a body over FILE_BODY_MAX goes through the pipe; a full ring says so, and room comes back as the other side reads", () => {
  const p = pair();
  try {
    assert.is(p.host.put(new Uint8Array(FILE_BODY_MAX + 1)), "pipe", "too large for the file");
    const refs: Uint8Array[] = [];
    const bodies: Uint8Array[] = [];
    for (;;) {
      const body = patterned(600_000, refs.length);
      const ref = p.host.put(body);
      if (ref === "full") break;
      refs.push(inFile(ref).slice());
      bodies.push(body);
    }
    assert.is(refs.length, Math.floor(RING_BYTES / 600_000), "the ring took what it holds, no more");
    assert.is(p.host.put(patterned(600_000, 98)), "full", "full: nothing was read yet");
    // nothing read yet: nothing was overwritten
    assertSameBytes(p.guest.take(refs[0]!, fresh), bodies[0]!);
    assert.instance(p.host.put(patterned(600_000, 99)), Uint8Array, "the room the guest read is used again");
    for (let i = 1; i < refs.length; i++) assertSameBytes(p.guest.take(refs[i]!, fresh), bodies[i]!, `body ${i} unharmed`);
  } finally {
    done(p);
  }
});

test("references out of the ring, of the wrong size or past the file's end are malformed frames", () => {
  const p = pair();
  try {
    const ref = (at: number, n: number, size = FILE_REF_BYTES) => {
      const v = new DataView(new ArrayBuffer(size));
      v.setFloat64(0, at);
      if (size >= FILE_REF_BYTES) v.setUint32(8, n);
      return new Uint8Array(v.buffer);
    };
    malformed(() => p.host.take(ref(0, 10, 16), fresh), /16-byte body reference/);
    malformed(() => p.host.take(ref(RING_BYTES - 10, 11), fresh), /out of its ring/);
    malformed(() => p.host.take(ref(-1, 10), fresh), /out of its ring/);
    malformed(() => p.host.take(ref(Number.NaN, 10), fresh), /out of its ring/);
    malformed(() => p.host.take(ref(0.5, 10), fresh), /out of its ring/);
    malformed(() => p.host.take(ref(0, 0), fresh), /out of its ring/);
    malformed(() => p.host.take(ref(0, FILE_BODY_MAX + 1), fresh), /out of its ring/);
    // a child that cuts the file short: the host reads fewer bytes than the reference says
    const sent = inFile(p.guest.put(patterned(100_000, 1)));
    ftruncateSync(p.childFd, 4096);
    malformed(() => p.host.take(sent, fresh), /100000 bytes had 0/);
  } finally {
    done(p);
  }
});

test("a read position the other side lies about never lets the sender overwrite what is unread", () => {
  const p = pair();
  try {
    const first = patterned(700_000, 1);
    const kept = inFile(p.host.put(first)).slice();
    // the guest claims it read everything, far past what was written, then garbage
    for (const claim of [1e15, -5, Number.NaN, 2 ** 60]) {
      const word = new Float64Array([claim]);
      writeSync(p.childFd, new Uint8Array(word.buffer), 0, 8, 8);
      // fills the ring up to what the claim allows (bounded: a sender that believed it would never stop)
      for (let k = 0; k < 8 && typeof p.host.put(patterned(700_000, 2)) !== "string"; k++);
    }
    // the host only trusted what it had written: its first body is still there to read
    assertSameBytes(p.guest.take(kept, fresh), first);
  } finally {
    done(p);
  }
});

test("a file that cannot be written is left alone from then on: bodies go through the pipe", () => {
  let writes = 0;
  const broken: FileIo = {
    // the guest has said it reads the file: only the writes fail
    read: (into) => into.fill(1).byteLength,
    write: () => {
      writes++;
      throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    },
  };
  const side = BodyFile.host(broken);
  assert.is(side.put(new Uint8Array(100_000)), "pipe");
  assert.is(side.put(new Uint8Array(100_000)), "pipe");
  assert.is(writes, 1, "tried once");
});

test("a file left in /dev/shm by a host that is gone is removed; a live host's is not", async () => {
  const gone = spawn(process.execPath, ["--version"], { stdio: "ignore" });
  await new Promise((r) => gone.on("exit", r));
  const left = `/dev/shm/lanes-body-${gone.pid}-0123456789abcdef`;
  const live = `/dev/shm/lanes-body-${process.pid}-0123456789abcdef`;
  writeFileSync(left, "lanesbf1");
  writeFileSync(live, "lanesbf1");
  try {
    removeLeftovers();
    assert.not.ok(existsSync(left), "the gone host's file is removed");
    assert.ok(existsSync(live), "this host's own file stays");
  } finally {
    rmSync(left, { force: true });
    rmSync(live, { force: true });
  }
});

test.run();
