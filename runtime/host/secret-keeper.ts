/**
 * The host's secrets: sealed in the deploy store, open in this process's memory only, given to
 * the functions that name them. Setting or deleting one restarts those functions onto the new
 * value as a deploy switches a version (Deployer.restart): no request is dropped.
 *
 * A key file that does not open what the store holds stops the host from starting, and nothing
 * stored is changed: the sealed values stay as they are until the right key comes back. Values
 * sealed by an older key listed after the current one in the key file are sealed again with the
 * current key at start-up.
 */
import type { DeployStore } from "../deploy/store.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { SecretsKey } from "../secrets/crypto.ts";
import type { HostSecrets } from "../deploy/model.ts";
import { describeSecret, secretKey, type SecretInfo, type SecretRecord } from "../secrets/model.ts";
import { SecretValues } from "../secrets/values.ts";
import type { Deployer } from "./deployer.ts";
import type { RestartResult } from "./restart.ts";
import type { Served } from "./served.ts";

export interface SecretChange extends RestartResult {
  name: string;
  function: string | null;
  updatedAt: string | null;
  /**
   * On a shared store: the other live hosts whose records say they lack the key that sealed it
   * (keyIds null: no key file). They keep serving the value they had, so the answer must say so.
   */
  unreadableOn?: { url: string; runtime: string; keyIds: string[] | null }[];
}

const HOW_TO_SET = (name: string, fn: string) => `set it with: lanes secret set ${name} --to URL, or --function ${fn} for this function only`;

export class SecretKeeper {
  private constructor(
    private readonly store: DeployStore,
    private readonly keys: SecretsKey[],
    private readonly log: Logger,
    private values: SecretValues,
  ) {}

  /** What the store's last read left unopened (names only) and why; none after a read that opened all. */
  private unreadable: string[] = [];
  private error: string | null = null;

  /** For this host's record (cluster-member.ts): the ids of its keys, and what it cannot open. */
  status(): HostSecrets {
    return { keyIds: this.keys.map((k) => k.id), unreadable: this.unreadable, error: this.error };
  }

  /** The id of the key a value set here is sealed with. */
  get sealingKeyId(): string {
    return this.keys[0]!.id;
  }

  /** The values functions get now. */
  get current(): SecretValues {
    return this.values;
  }

  /**
   * Open the store's secrets with `keys` (from `keyFile`). Undefined without keys, when the
   * store holds none; refuses to start when it holds some this host cannot open.
   */
  static async open(store: DeployStore, keys: SecretsKey[] | undefined, keyFile: string | undefined, log: Logger): Promise<SecretKeeper | undefined> {
    const records = await store.listSecrets();
    const names = (rs: SecretRecord[]) => rs.map((r) => describeSecret(r.name, r.function)).join(", ");
    if (!keys || !keyFile) {
      if (records.length === 0) return undefined;
      throw new LanesError(
        "secrets_locked",
        `--data ${store.location} keeps ${records.length} sealed secret(s) (${names(records)}): start the host with --secrets-key-file FILE, the key they were sealed with`,
      );
    }
    const foreign = records.filter((r) => !keys.some((k) => k.id === r.keyId));
    if (foreign.length > 0) {
      const ids = [...new Set(foreign.map((r) => r.keyId))].join(", ");
      throw new LanesError(
        "secrets_locked",
        `--secrets-key-file ${keyFile}: ${foreign.length} of the ${records.length} secret(s) in ${store.location} were sealed with another key ` +
          `(key id ${ids}; this file gives ${keys.map((k) => k.id).join(", ")}): ${names(foreign)}. Nothing was changed: start with the key file they were ` +
          `sealed with (a new key goes on the first line, the old one after it, and the host seals them again), or remove ${store.location}/secrets to start without them`,
      );
    }
    const { values, resealed } = await openAll(store, records, keys);
    if (resealed > 0) log.info(`sealed ${resealed} secret(s) again with the first key of ${keyFile} (key id ${keys[0]!.id})`);
    return new SecretKeeper(store, keys, log, values);
  }

  /**
   * Read the store's secrets again, and restart the serving functions whose values changed:
   * for a store several hosts share, when another host set or deleted one (its watch calls this).
   */
  refresh(deployer: Deployer): Promise<RestartResult> {
    return deployer.exclusive(async () => {
      const records = await this.store.listSecrets();
      const unknown = records.filter((r) => !this.keys.some((k) => k.id === r.keyId));
      // Kept until a read opens everything: health, readiness and this host's record say it, since
      // the functions keep the values read before (a revoked credential, perhaps) meanwhile.
      this.unreadable = unknown.map((r) => describeSecret(r.name, r.function));
      this.error = null;
      if (unknown.length > 0) {
        const ids = [...new Set(unknown.map((r) => r.keyId))].join(", ");
        this.error = `sealed with a key this host does not have (key id ${ids}; its --secrets-key-file gives ${this.keys.map((k) => k.id).join(", ")})`;
        throw new LanesError("internal", `${this.unreadable.join(", ")}: ${this.error}`);
      }
      const { values } = await openAll(this.store, records, this.keys, false).catch((e: unknown) => {
        this.error = e instanceof Error ? e.message : String(e);
        throw e;
      });
      const r = await this.change(deployer, values, async () => {});
      if (r.restarted.length > 0) this.report("secrets changed in the store", r);
      return r;
    });
  }

  /** Every secret, with who set it when and which serving functions use it: never a value. */
  async list(deployer: Deployer): Promise<(SecretInfo & { usedBy: string[] })[]> {
    const records = await this.store.listSecrets();
    const used = new Map<string, string[]>();
    for (const s of deployer.serving) {
      let keys: string[] = [];
      try {
        keys = this.values.resolve(s.spec).keys;
      } catch {
        // it names a secret that has none: it uses none of those listed
      }
      for (const k of keys) used.set(k, [...(used.get(k) ?? []), s.spec.name]);
    }
    return records
      .map((r) => ({ name: r.name, function: r.function, updatedAt: r.updatedAt, author: r.author, usedBy: [...new Set(used.get(secretKey(r.name, r.function)) ?? [])].sort() }))
      .sort((a, b) => a.name.localeCompare(b.name) || (a.function ?? "").localeCompare(b.function ?? ""));
  }

  /** Set a secret and restart the functions whose value it changes onto it. */
  set(deployer: Deployer, name: string, fn: string | null, value: string, author: string): Promise<SecretChange> {
    return deployer.exclusive(async () => {
      const record: SecretRecord = { name, function: fn, ...(await this.keys[0]!.seal(name, fn, value)), updatedAt: new Date().toISOString(), author };
      const next = this.values.with(name, fn, value, record.iv);
      const r = await this.change(deployer, next, () => this.store.putSecret(record));
      this.report(`${describeSecret(name, fn)} set by ${author}`, r);
      return { name, function: fn, updatedAt: record.updatedAt, ...r };
    });
  }

  /** Delete a secret; refused (409) while a serving function would be left without a value. */
  delete(deployer: Deployer, name: string, fn: string | null, author: string): Promise<SecretChange> {
    return deployer.exclusive(async () => {
      if (!this.values.has(name, fn)) throw new LanesError("not_found", `${describeSecret(name, fn)} is not set (see lanes secret list)`);
      const next = this.values.without(name, fn);
      const orphans = deployer.serving.filter((s) => next.stampOf(s.spec).startsWith("missing") && !this.values.stampOf(s.spec).startsWith("missing"));
      if (orphans.length > 0) {
        throw new LanesError(
          "conflict",
          `${describeSecret(name, fn)} is used by ${[...new Set(orphans.map((s) => s.spec.name))].join(", ")}: deploy a version that does not name it first; nothing was changed`,
        );
      }
      const r = await this.change(deployer, next, async () => void (await this.store.deleteSecret(name, fn)));
      this.report(`${describeSecret(name, fn)} deleted by ${author}`, r);
      return { name, function: fn, updatedAt: null, ...r };
    });
  }

  /** Restart the serving functions whose secrets `next` changes; `keep` stores the change once they are up. */
  private change(deployer: Deployer, next: SecretValues, keep: () => Promise<void>): Promise<RestartResult> {
    const which = deployer.serving.filter((s) => this.values.stampOf(s.spec) !== next.stampOf(s.spec) && (s.pool !== undefined || lacksSecret(s)));
    return deployer.restart(which, next, async () => {
      await keep();
      this.values = next;
    });
  }

  private report(what: string, r: RestartResult) {
    const restarted = r.restarted.length > 0 ? `restarted ${r.restarted.join(", ")} (started in ${r.loadMs} ms, switched in ${r.switchMs} ms)` : "no serving function uses it";
    this.log.info(`${what}: ${restarted}`);
  }
}

/** It could not start because a secret it names had no value (it may start once that is set). */
function lacksSecret(s: Served): boolean {
  return (s.error?.cause as LanesError | undefined)?.code === "missing_secret";
}

/** The values sealed in `records`; with `reseal`, those sealed by an older key are sealed again with the first. */
async function openAll(store: DeployStore, records: SecretRecord[], keys: SecretsKey[], reseal = true): Promise<{ values: SecretValues; resealed: number }> {
  let values = SecretValues.empty(HOW_TO_SET);
  let resealed = 0;
  for (let r of records) {
    const value = await keys.find((k) => k.id === r.keyId)!.open(r);
    if (reseal && r.keyId !== keys[0]!.id) {
      r = { ...r, ...(await keys[0]!.seal(r.name, r.function, value)) };
      await store.putSecret(r);
      resealed++;
    }
    values = values.with(r.name, r.function, value, r.iv);
  }
  return { values, resealed };
}
