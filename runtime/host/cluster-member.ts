/**
 * One host of a cluster on a shared store (`lanes start --store etcd://...`): it follows the
 * active deployment whoever switched it, keeps its own record in the store (what it serves,
 * since when, what it could not load), and says whether the store can be reached.
 *
 * When the store is away nothing a request needs is missing: the routing is this host's own.
 * The host keeps serving its last deployment, logs that once, and reports `degraded` in
 * /_lanes/health; deploys fail (the store refuses them). When the store is back, the watch
 * reads the active deployment again and the host catches up, and its record is written again.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { describeDeployment, type Deployment, type HostRecord, type HostSecrets } from "../deploy/model.ts";
import type { ClusterStore, StoreState } from "../deploy/store.ts";
import type { Logger } from "../log.ts";
import type { Deployer } from "./deployer.ts";

export interface ClusterStatus {
  host: HostRecord;
  store: StoreState & { location: string };
  /** Deployments switched to since start-up, made here or elsewhere. */
  switches: number;
  /** Deployments made elsewhere that did not load here. */
  failedSwitches: number;
}

export class ClusterMember {
  private record: HostRecord;
  private switches = 0;
  private failedSwitches = 0;
  /** The store's history this host serves a deployment of (etcd-history.ts). */
  private epoch = 0;
  private reachable = true;

  constructor(
    private readonly store: ClusterStore,
    private readonly deployer: Deployer,
    private readonly log: Logger,
    adapter: RuntimeAdapter,
    url: string,
    secrets: HostSecrets | null,
  ) {
    const now = new Date().toISOString();
    const d = deployer.active;
    this.record = {
      id: crypto.randomUUID(),
      url,
      runtime: adapter.name,
      runtimeVersion: adapter.version,
      startedAt: now,
      revision: d.revision,
      serving: describeDeployment(d),
      switchedAt: now,
      switchMs: null,
      loading: null,
      failed: null,
      prepared: null,
      secrets,
    };
  }

  get id(): string {
    return this.record.id;
  }

  /** Follow the store and announce this host. */
  start(): void {
    this.deployer.onSwitch = (d, ms) => {
      this.switches++;
      this.update({ revision: d.revision, serving: describeDeployment(d), switchedAt: new Date().toISOString(), switchMs: ms, loading: null });
    };
    this.store.follow(
      (d, epoch) => (epoch === this.epoch ? this.onActive(d) : this.rejoin(d, epoch)),
      (s) => this.onState(s),
      (v) => {
        // naming the staging it answers: a record of an earlier one does not count (prepared.ts)
        const prepared = (error: string | null) => this.update({ prepared: { version: v.id, ...(v.stage ? { stage: v.stage } : {}), error } });
        this.deployer.prepare(v.id, v.files)?.then(
          () => prepared(null),
          (e) => prepared(e instanceof Error ? e.message : String(e)),
        );
      },
    );
    this.update({});
  }

  /** What this host's secrets are now (secret-keeper.ts), after the store's were read again. */
  noteSecrets(secrets: HostSecrets): void {
    const was = this.record.secrets;
    if (was && was.error === secrets.error && was.unreadable.join() === secrets.unreadable.join()) return;
    this.update({ secrets });
  }

  status(): ClusterStatus {
    return {
      host: this.record,
      store: { ...this.store.state(), location: this.store.location },
      switches: this.switches,
      failedSwitches: this.failedSwitches,
    };
  }

  async stop(): Promise<void> {
    await this.store.close();
  }

  private onActive(d: Deployment) {
    if (d.revision <= this.deployer.active.revision) return;
    const learned = performance.now();
    this.update({ loading: { revision: d.revision, since: new Date().toISOString() } });
    this.deployer.follow(d).then(
      (r) => {
        if (!r) return;
        const ms = Math.round(performance.now() - learned);
        this.log.info(`followed deployment ${d.revision} (${describeDeployment(d)}, ${d.reason} by ${d.author} on another host) in ${ms} ms`);
        this.update({ switchMs: ms });
      },
      (e) => {
        this.failedSwitches++;
        const error = e instanceof Error ? e.message : String(e);
        this.log.error(`deployment ${d.revision} (${describeDeployment(d)}) did not load on this host; it keeps serving deployment ${this.deployer.active.revision}: ${error}`);
        this.update({ loading: null, failed: { revision: d.revision, error } });
      },
    );
  }

  /**
   * `d` was made in the store after it lost the deployments this host followed: its revision and
   * version ids may be lower than, or the same as, those served here, and name other files. The
   * host switches to it as a restart would, and keeps serving what it has until then (or if it
   * does not load: health says so, and the next deployment made is tried again).
   */
  private rejoin(d: Deployment, epoch: number) {
    const learned = performance.now();
    this.update({ loading: { revision: d.revision, since: new Date().toISOString() }, failed: null });
    this.deployer.follow(d, true).then(
      (r) => {
        if (!r) return; // a newer deployment came meanwhile: its turn switches
        this.epoch = epoch;
        this.store.rejoined(epoch);
        const ms = Math.round(performance.now() - learned);
        this.log.info(`switched to deployment ${d.revision} (${describeDeployment(d)}) of the deploy store's new history in ${ms} ms: the store holds what this host serves again`);
        this.update({ switchMs: ms });
      },
      (e) => {
        this.failedSwitches++;
        const error = e instanceof Error ? e.message : String(e);
        this.log.error(`deployment ${d.revision} (${describeDeployment(d)}) of the deploy store's new history did not load on this host; it keeps serving what it had: ${error}`);
        this.update({ loading: null, failed: { revision: d.revision, error } });
      },
    );
  }

  private onState(s: StoreState) {
    const d = this.deployer.active;
    const was = this.reachable;
    this.reachable = s.reachable;
    if (s.lost) this.log.error(`deploy store ${s.lost}; this host serves deployment ${d.revision} (${describeDeployment(d)}); deploys are refused meanwhile`);
    else if (s.reachable && !was) this.log.info(`deploy store ${this.store.location} answers again; catching up with its active deployment`);
    else if (s.reachable) this.log.info(`deploy store ${this.store.location} holds the deployment this host serves again`);
    else
      this.log.warn(
        `deploy store ${this.store.location} cannot be reached (${s.error}); serving deployment ${d.revision} (${describeDeployment(d)}) until it is back; deploys fail meanwhile`,
      );
    // the record could not be written while it was away
    if (s.reachable) this.update({});
  }

  private update(change: Partial<HostRecord>) {
    this.record = { ...this.record, ...change };
    this.store.announce(this.record).catch(() => {
      // written again once the store answers (etcd-members.ts)
    });
  }
}
