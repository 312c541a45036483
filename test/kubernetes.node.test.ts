/**
 * The Kubernetes files under deploy/: every manifest validated against the Kubernetes API's
 * schemas with kubernetes-models (its validators are generated from the Kubernetes OpenAPI
 * spec), and the lanes-specific wiring checked: probes on lanes' routes, the drain covered by
 * the grace period, the token from the Secret, the store URL lanes accepts, a non-root image
 * with bubblewrap.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseAllDocuments } from "yaml";
import { parseEtcdUrl } from "../runtime/deploy/etcd-url.ts";
import { SHUTDOWN_GRACE_MS } from "../runtime/cli/start.ts";

const dir = fileURLToPath(new URL("../deploy/", import.meta.url));
const test = suite("the Kubernetes manifests and the container image");

interface Doc {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
}

/** A document walked by its Kubernetes field names: the assertions below are its checks. */
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML
type Yaml = any;

function manifests(): Doc[] {
  return readdirSync(join(dir, "kubernetes"))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, "kubernetes", f), "utf8")).map((d) => ({ ...(d.toJS() as Doc), file: f })));
}

/** The kubernetes-models class for a manifest's apiVersion and kind. */
async function modelFor(doc: Doc): Promise<new (data: object) => { validate(): void }> {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  const mod = await import(`kubernetes-models/${group ? `${group}/` : ""}${version}/${doc.kind}`);
  return mod[doc.kind];
}

async function validate(doc: Doc): Promise<void> {
  const { file: _file, ...data } = doc;
  const Model = await modelFor(doc);
  new Model(data).validate();
}

test("every manifest is valid against the Kubernetes schemas", async () => {
  const docs = manifests().filter((d) => d.apiVersion !== "kustomize.config.k8s.io/v1beta1");
  assert.equal(docs.map((d) => d.kind).sort(), ["Deployment", "HorizontalPodAutoscaler", "Secret", "Service", "Service", "StatefulSet"]);
  for (const doc of docs) {
    await validate(doc);
    console.log(`  deploy/kubernetes/${doc.file}: ${doc.apiVersion} ${doc.kind} ${doc.metadata.name}: valid`);
  }
});

test("the validation refuses a broken manifest, naming the field", async () => {
  const deployment = manifests().find((d) => d.kind === "Deployment")!;
  const broken = structuredClone(deployment) as Doc & { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
  broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = "http";
  let error = "";
  await validate(broken).catch((e: Error) => (error = e.message));
  assert.match(error, /containers\/0\/ports\/0\/containerPort must be integer/);
});

test("the kustomization names every lanes manifest, and the etcd example stays apart", () => {
  const k = manifests().find((d) => d.kind === "Kustomization") as Doc & { resources: string[] };
  assert.equal(k.resources.sort(), ["deployment.yaml", "hpa.yaml", "secret.yaml", "service.yaml"]);
});

test("the Deployment probes lanes' routes, drains within its grace period, reads the token from the Secret and names a store lanes accepts", () => {
  const docs = manifests();
  const d = docs.find((x) => x.kind === "Deployment") as Yaml;
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  assert.is(c.readinessProbe.httpGet.path, "/_lanes/ready");
  assert.is(c.livenessProbe.httpGet.path, "/_lanes/health");
  const preStop = Number(c.lifecycle.preStop.exec.command[1]);
  assert.ok(pod.terminationGracePeriodSeconds >= preStop + SHUTDOWN_GRACE_MS / 1000 + 1, "preStop + lanes' drain fit in the grace period");
  const tokenFile = c.args[c.args.indexOf("--admin-token-file") + 1];
  const mount = c.volumeMounts.find((m: Yaml) => tokenFile.startsWith(`${m.mountPath}/`));
  const volume = pod.volumes.find((v: Yaml) => v.name === mount.name);
  const secret = docs.find((x) => x.kind === "Secret") as Yaml;
  assert.is(volume.secret.secretName, secret.metadata.name);
  assert.ok(tokenFile.endsWith(`/${Object.keys(secret.stringData)[0]}`));
  assert.is(parseEtcdUrl(c.args[c.args.indexOf("--store") + 1]).endpoints.length, 3);
  assert.ok(pod.securityContext.runAsNonRoot && c.securityContext.allowPrivilegeEscalation === false);
  const service = docs.find((x) => x.kind === "Service" && x.metadata.name === "lanes") as Yaml;
  assert.equal(service.spec.selector, d.spec.template.metadata.labels);
  const hpa = docs.find((x) => x.kind === "HorizontalPodAutoscaler") as Yaml;
  assert.equal([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ["Deployment", d.metadata.name]);
  assert.ok(c.resources.requests.cpu, "the HPA's CPU target needs a CPU request");
});

test("the image is multi-stage, runs as a non-root user and has bubblewrap", () => {
  const file = readFileSync(join(dir, "Dockerfile"), "utf8");
  assert.is(file.match(/^FROM /gm)?.length, 2);
  assert.match(file, /apt-get install [^\n]*bubblewrap/);
  assert.match(file, /^USER 10001:10001$/m);
  assert.match(file, /^COPY --from=deps /m);
});

test.run();
