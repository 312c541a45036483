/**
 * How many threads a process-lane child may run (adapters/pids-cgroup.ts, runtime/pool/watchdog.ts),
 * host on Node, Bun and Deno. Where the host can make a pids cgroup per child, the kernel refuses
 * a thread past MAX_THREADS at once, and the host replaces the child naming why; the watchdog's
 * readings alone (every 250 ms) let a burst run on: a bun child reached 2,169-2,965 threads
 * before one saw it. Each child's cgroup is gone once it ends. Where the host cannot make one,
 * the start-up line says so and the watchdog stops the child as before.
 */
import { readdirSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { hierarchy, pidsCgroupBase, PIDS_MAX } from "../adapters/pids-cgroup.ts";
import { capabilityTable } from "../runtime/capability-table.ts";
import { MAX_THREADS } from "../runtime/pool/watchdog.ts";
import { expectError, expectJson, measure, servingPid, waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost }>(`threads of a process-lane child (${adapter.name} host)`);
const base = pidsCgroupBase();
/** This host's children's cgroups (the host runs in this process). */
const ours = () => (base ? readdirSync(base).filter((n) => n.startsWith(`lanes-${process.pid}-`)) : []);
/** The pids cgroup process `pid` is in, by its name. */
const cgroupOf = (pid: number) => /lanes-\d+-\d+$/m.exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"))?.[0];

test.before(async (ctx) => {
  ctx.h = await startTestHost({
    // memoryMb 512: 5,000 idle threads hold about 170 MB, which must not stop it for its memory
    burst: { entry: "thread-bomb.ts", lane: "process", runtime: "bun", memoryMb: 512, instances: { min: 0, max: 1 } },
    "hello-node": { entry: "chaos-fault.ts", lane: "process", runtime: "node", instances: { min: 1, max: 1 } },
    "hello-bun": { entry: "chaos-fault.ts", lane: "process", runtime: "bun", instances: { min: 1, max: 1 } },
    "hello-deno": { entry: "chaos-fault.ts", lane: "process", runtime: "deno", instances: { min: 1, max: 1 } },
  });
});
/** The last test stops the host itself, to see what it leaves. */
let stopped = false;
test.after(async ({ h }) => {
  if (!stopped) await h.stop();
});

test("where the pids controller is: a cgroup v1 hierarchy, inside a container's view of it too; none under cgroup v2 without it", () => {
  const mount = (root: string, point: string, type: string, options: string) => `30 25 0:26 ${root} ${point} rw,relatime shared:9 - ${type} cgroup ${options}`;
  const hybrid = [mount("/", "/sys/fs/cgroup/pids", "cgroup", "rw,pids"), mount("/", "/sys/fs/cgroup/unified", "cgroup2", "rw")].join("\n");
  assert.equal(hierarchy("8:pids:/\n4:memory:/x\n0::/\n", hybrid), { base: "/sys/fs/cgroup/pids", version: 1 });
  // a container sees its own cgroup as the mount's root
  const inContainer = mount("/docker/abc", "/sys/fs/cgroup/pids", "cgroup", "rw,nosuid,pids");
  assert.equal(hierarchy("8:pids:/docker/abc/web\n", inContainer), { base: "/sys/fs/cgroup/pids/web", version: 1 });
  const v2 = hierarchy("0::/no/such/cgroup\n", mount("/", "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"));
  assert.match("why" in v2 ? v2.why : "", "the pids controller is not available to /sys/fs/cgroup/no/such/cgroup");
  assert.ok("why" in hierarchy("1:name=systemd:/\n", mount("/", "/sys/fs/cgroup/systemd", "cgroup", "rw,name=systemd")));
});

test("the start-up line says how threads are bounded on this host", ({ h }) => {
  const title =
    capabilityTable(
      h.host.functions.map((f) => f.spec),
      adapter,
    )[0] ?? "";
  if (base) assert.match(title, `threads: at most ${MAX_THREADS} a child, by a pids cgroup each`);
  else assert.match(title, /threads: at most 2048 a child, read every 250 ms by the watchdog \(no pids cgroup: .+\)/);
});

test("a bun child that starts 5,000 threads in a burst is refused past the limit and replaced, naming why; the next request is served", async ({ h }) => {
  const res = await h.fetch("/burst?n=5000&ms=3000&report=1");
  const err = await expectError(res, 502, "instance_crashed");
  const reached = Math.max(...h.logs.flatMap((l) => [...(/threads started: (\d+)/.exec(l)?.slice(1) ?? [])]).map(Number));
  measure(`bun child, 5,000 threads asked for in a burst (${base ? "pids cgroup" : "watchdog only"})`, `${reached} started; ${err.message}`);
  if (base) {
    // the kernel said no at the limit (EAGAIN), before the watchdog's next reading
    assert.ok(reached <= MAX_THREADS, `the child started ${reached} threads, over ${MAX_THREADS}`);
    assert.ok(
      h.logs.some((l) => /pthread_create returned 11/.test(l)),
      "pthread_create failed with EAGAIN",
    );
    assert.match(err.message, `tried to run more than the ${MAX_THREADS} threads a process-lane child may run (its pids cgroup refused`);
  } else assert.match(err.message, /ran \d+ threads, over the 2048 a process-lane child may run/);
  const metrics = await (await h.fetch("/_lanes/metrics")).text();
  assert.match(metrics, /lanes_instance_restarts_total\{[^}]*function="burst"[^}]*cause="thread_limit"[^}]*\} 1/);
  assert.equal(await expectJson(h.fetch("/burst?n=10")), { started: 10 });
});

test("a child that ends because a thread was refused is reported as such, not by its exit code", async ({ h }) => {
  const err = await expectError(await h.fetch("/burst?n=5000&exit=3"), 502, "instance_crashed");
  // no cgroup: nothing refuses a thread, and the watchdog's reading is what stops the burst
  if (!base) return void assert.match(err.message, /ran \d+ threads, over the 2048 a process-lane child may run/);
  // the child exits (code 3) at once, but tearing down 2,041 threads takes a while, and the
  // watchdog's reading of the refusal may come first: either way the refusal is the reason given
  assert.match(err.message, `tried to run more than the ${MAX_THREADS} threads a process-lane child may run (its pids cgroup refused`);
  assert.not.match(err.message, /code 3/);
  const metrics = await (await h.fetch("/_lanes/metrics")).text();
  assert.match(metrics, /lanes_instance_restarts_total\{[^}]*function="burst"[^}]*cause="thread_limit"[^}]*\} 2/);
  assert.equal(await expectJson(h.fetch("/burst?n=10")), { started: 10 });
});

test("node, bun and deno children run in a pids cgroup of their own, with room to spare", async ({ h }) => {
  if (!base) return void assert.is(cgroupOf(servingPid(h, "hello-node")), undefined);
  const seen = new Set<string>();
  for (const name of ["hello-node", "hello-bun", "hello-deno"]) {
    await expectJson(h.fetch(`/${name}`));
    const pid = servingPid(h, name);
    const cgroup = cgroupOf(pid);
    assert.ok(cgroup?.startsWith(`lanes-${process.pid}-`), `${name}: its runtime is in ${cgroup}`);
    seen.add(cgroup!);
    const dir = `${base}/${cgroup}`;
    assert.is(readFileSync(`${dir}/pids.max`, "utf8").trim(), String(PIDS_MAX));
    const tasks = Number(readFileSync(`${dir}/pids.current`, "utf8"));
    const threads = Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
    measure(`${name}: tasks in its pids cgroup, having answered`, `${tasks} (its runtime's threads: ${threads})`);
    // the runtime's threads, the sandbox's PID 1 and our child bwrap
    assert.ok(tasks >= threads && tasks <= threads + 2, `${tasks} tasks for ${threads} threads`);
  }
  assert.is(seen.size, 3, "one cgroup each");
});

test("a child's cgroup is removed when it ends, and the host leaves none behind", async ({ h }) => {
  if (!base) return;
  await expectJson(h.fetch("/burst?n=1"));
  const cgroup = cgroupOf(servingPid(h, "burst"))!;
  assert.ok(ours().includes(cgroup));
  await expectError(await h.fetch("/burst?n=5000&ms=3000"), 502, "instance_crashed");
  await waitFor(() => !ours().includes(cgroup), `${cgroup} is removed once its child is stopped`);
  stopped = true;
  await h.stop();
  // each goes once its child's pipes have closed, which on a Deno host can come after stop()
  await waitFor(
    () => ours().length === 0,
    () => `no cgroup of this host's is left once it has stopped (left: ${ours().join(", ")})`,
  );
});

test.run();
