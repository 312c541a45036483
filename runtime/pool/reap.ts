/** Which instances a pool stops for being idle: never below `instances.min`. */
import type { Instance } from "./instance.ts";

/**
 * Ready instances with nothing in flight and unused for `idleMs`, oldest in the list first, as
 * many as `live` allows above `min`. `unusedOnly`: only those that never served a request (the
 * start-up check's instances).
 */
export function idleAboveMin(instances: readonly Instance[], live: number, min: number, idleMs: number, unusedOnly: boolean): Instance[] {
  const now = Date.now();
  let keep = live;
  const idle: Instance[] = [];
  for (const i of instances) {
    if (keep <= min) break;
    if (unusedOnly && i.dispatched > 0) continue;
    if (i.state === "ready" && i.inflight === 0 && now - i.lastUsed >= idleMs) {
      keep--;
      idle.push(i);
    }
  }
  return idle;
}

/** The reaper's timer: it runs only while its pool has instances, so a host of thousands of cold functions has no timers to run. */
export class ReapTimer {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly tick: () => void,
    private readonly everyMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(this.tick, this.everyMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
