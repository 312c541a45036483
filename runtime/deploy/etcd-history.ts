/**
 * Whether etcd still holds the history of deployments this host follows (etcd-store.ts).
 *
 * etcd can lose it under running hosts: wiped, replaced by an empty one, or restored from a
 * backup older than the active deployment. The hosts then keep serving what they have (the
 * store's `lost` state says why; deploys through them are refused, as the store would hand out
 * version ids they serve under other files) until one of two things happens:
 * - the deployment they saw is back (etcd's data restored): nothing changed, all is well again;
 * - a deployment made after the one the host serves (by its time) is in the store: one made
 *   since the loss (a host started on the emptied store makes its folder version 1, or a deploy
 *   through such a host), that is the store's history from now on. It starts a new epoch; the
 *   host switches to it as a restart would, and says so with `rejoined` (until then `lost` says
 *   it is switching). An older backup's own deployment is older than what the hosts serve: they
 *   keep theirs. (By time, not by etcd's revisions: a host that reconnects after the new
 *   deployment was made must take it too.)
 * Deployments are told apart by their JSON (revision, time, author, versions), never by revision
 * or version id: a new history reuses both.
 */
import { describeDeployment, type Deployment } from "./model.ts";
import { parseJson, text, type KeyValue } from "./etcd-client.ts";
import type { StoreState } from "./store.ts";

export class StoreHistory {
  /** The active deployment as last read, with the mod revision of its key: what a switch compares. */
  seen: { revision: number; modRevision: number; json: string } | undefined;
  /** Bumped when the store holds a history made after it lost the one before. */
  epoch = 0;
  /** Since the loss was seen. */
  private gone = false;

  constructor(
    private readonly location: string,
    private readonly state: () => StoreState,
    private readonly setState: (s: StoreState) => void,
  ) {}

  /** A value of `active`, read or watched: the deployment it holds. */
  note(kv: KeyValue): Deployment {
    const d = parseJson<Deployment>(kv, this.location);
    const json = text(kv.value);
    // within one history a revision has one deployment and the active one only goes up: this is
    // another history (seen when etcd's own revisions went past the ones seen meanwhile)
    if (this.seen && d.revision <= this.seen.revision && json !== this.seen.json) this.noteGone();
    if (this.gone) {
      if (json === this.seen?.json) {
        // etcd's data is back (restored): its mod revisions may be older than the ones seen
        this.gone = false;
        this.seen = undefined;
        this.lost(null);
      } else if (this.seen && Date.parse(d.createdAt) > Date.parse((JSON.parse(this.seen.json) as Deployment).createdAt)) {
        this.gone = false;
        this.seen = undefined;
        this.epoch++;
        this.lost(
          `${this.location} lost the deployments this host followed (etcd was wiped, replaced or restored from an older backup) and holds deployment ${d.revision} (${describeDeployment(d)}) made since: this host switches to it once it has loaded it`,
        );
      } else return d; // the backup's own deployment, older than what the hosts serve
    }
    if (!this.seen || kv.modRevision >= this.seen.modRevision) this.seen = { revision: d.revision, modRevision: kv.modRevision, json };
    return d;
  }

  /** `active` read back empty, deleted, or from an etcd older than the one seen. */
  noteGone(): void {
    if (!this.seen || this.gone) return;
    this.gone = true;
    this.lost(
      `${this.location} no longer holds the active deployment (this host saw deployment ${this.seen.revision}): etcd was wiped, replaced or restored from an older backup; every host keeps serving what it has until a deployment is made in the store again (start a host on it: it makes its folder version 1), then switches to it; or restore etcd's data`,
    );
  }

  /** The host switched to the deployment of `epoch`: the store holds its history again. */
  rejoined(epoch: number): void {
    if (epoch === this.epoch && !this.gone && this.state().lost) this.lost(null);
  }

  private lost(lost: string | null) {
    this.setState({ ...this.state(), since: new Date().toISOString(), lost });
  }
}
