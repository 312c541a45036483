/**
 * Hosts know each other: each keeps its record under `hosts/<id>`, put with a lease of a few
 * seconds that it renews a few times per lease. A host that stops, crashes or loses its way to
 * etcd stops renewing, and etcd removes the record when the lease runs out; so the records
 * under `hosts/` are the hosts alive now. A lease etcd no longer knows (it ran out while etcd
 * or the host was away) is replaced, and the record put again.
 */
import type { HostRecord } from "./model.ts";
import { EtcdAnswer, text, type EtcdClient } from "./etcd-client.ts";

export class Members {
  private lease: string | undefined;
  private record: HostRecord | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** The latest record is not in etcd yet (etcd was away when it changed). */
  private dirty = false;

  constructor(
    private readonly client: EtcdClient,
    private readonly prefix: string,
    private readonly ttl: number,
    /** A renewal failed: the way to etcd may be gone. */
    private readonly onLost: () => void,
  ) {}

  /** Keep `record` as this host's (written now if etcd answers, else once it does). */
  announce(record: HostRecord): Promise<void> {
    this.record = record;
    this.dirty = true;
    this.timer ??= setInterval(() => void this.renew(), (this.ttl * 1000) / 4);
    return this.write();
  }

  get id(): string | undefined {
    return this.record?.id;
  }

  /** This host's lease (granted if it has none): a key put with it goes when the host does. */
  async leaseId(): Promise<string> {
    this.lease ??= await this.client.grant(this.ttl);
    return this.lease;
  }

  async list(): Promise<HostRecord[]> {
    const kvs = await this.client.list(this.prefix);
    return kvs.map((kv) => JSON.parse(text(kv.value)) as HostRecord).sort((a, b) => a.url.localeCompare(b.url));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.writing.catch(() => {});
    if (this.lease) await this.client.revoke(this.lease);
  }

  /** One write at a time, always of the latest record. */
  private write(): Promise<void> {
    const run = this.writing
      .catch(() => {})
      .then(async () => {
        if (this.closed || !this.record) return;
        this.dirty = true;
        this.lease ??= await this.client.grant(this.ttl);
        try {
          await this.client.put(this.prefix + this.record.id, JSON.stringify(this.record), this.lease);
        } catch (e) {
          // the lease ran out meanwhile: take a new one
          if (e instanceof EtcdAnswer && /lease not found/.test(e.message)) {
            this.lease = await this.client.grant(this.ttl);
            await this.client.put(this.prefix + this.record.id, JSON.stringify(this.record), this.lease);
          } else throw e;
        }
        this.dirty = false;
      });
    this.writing = run;
    return run;
  }

  private async renew() {
    if (this.closed) return;
    try {
      if (this.lease && !this.dirty && (await this.client.keepAlive(this.lease))) return;
      if (!this.dirty) this.lease = undefined;
      await this.write();
    } catch {
      this.onLost();
    }
  }
}
