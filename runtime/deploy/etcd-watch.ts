/**
 * Follow one etcd key for as long as the host runs: read it, then watch it from the revision
 * after that read. When the stream breaks (etcd stopped, a member cut off, history compacted),
 * wait a moment and start again with a fresh read, from whichever member answers: a change
 * made while this host was away is then seen on the first read after etcd is back, without
 * a restart.
 */
import { Compacted, reason, type EtcdClient, type KeyValue } from "./etcd-client.ts";

/** Between attempts while etcd is away: short, so a host catches up within a second of its return. */
const RETRY_MS = [100, 250, 500, 800];

/** `prefix`: every key under `key` (their puts); `onRead`: after each fresh read, etcd's revision then and whether it found any. */
export function followKey(
  client: EtcdClient,
  key: string,
  onValue: (kv: KeyValue) => void,
  stop: AbortSignal,
  prefix = false,
  onDeleted?: () => void,
  onRead?: (revision: number, found: boolean) => void,
): { kick(): void } {
  let attempt: AbortController | undefined;
  const loop = async () => {
    for (let failures = 0; !stop.aborted; ) {
      attempt = new AbortController();
      const signal = AbortSignal.any([stop, attempt.signal]);
      try {
        const { kvs, revision } = prefix ? await client.listAt(key) : await client.get(key).then((r) => ({ kvs: r.kv ? [r.kv] : [], revision: r.revision }));
        onRead?.(revision, kvs.length > 0);
        for (const kv of kvs) onValue(kv);
        failures = 0;
        for await (const batch of client.watch(key, revision + 1, signal, prefix)) {
          for (const change of batch.kvs) onValue(change);
          if (batch.deleted > 0) onDeleted?.();
        }
      } catch (e) {
        if (stop.aborted) return;
        // a broken stream says etcd (or the way to it) is gone; the next read says whether it is back
        if (!attempt.signal.aborted && !(e instanceof Compacted)) client.onReach(false, `watch: ${reason(e)}`);
        await sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]!, stop);
      }
    }
  };
  void loop();
  return { kick: () => attempt?.abort() };
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const stopped = () => {
      clearTimeout(t);
      resolve();
    };
    stop.addEventListener("abort", stopped, { once: true });
  });
}

/** `fn` once per burst of calls within `ms`. */
export function coalesced(fn: () => void, ms: number): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      fn();
    }, ms);
  };
}
