// Validates rendered Kubernetes manifests offline: every object against its
// schema (npm kubernetes-models; the ServiceMonitor CRD by hand), then the
// properties snaptun's deployment promises (docs/OPERATIONS.md): probes,
// resource requests and limits, non-root and read-only, secrets mounted as
// files, a PodDisruptionBudget, a ServiceMonitor, a NetworkPolicy, and for
// the gateway a UDP Service that keeps client source addresses. What the
// objects mean for pods (selectors, policies, monitors) is meaning.mjs's.
//   node validate.mjs ROLE FILE.yaml      (ROLE: base, client or gateway)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [role, file] = process.argv.slice(2);
const objects = parseAllDocuments(readFileSync(file, "utf8"))
  .map((d) => d.toJSON())
  .filter(Boolean);
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

for (const o of objects) {
  const [group, version] = o.apiVersion.includes("/")
    ? o.apiVersion.split("/")
    : [null, o.apiVersion];
  if (o.kind === "ServiceMonitor") {
    check(o.spec?.endpoints?.length > 0 && o.spec?.selector,
          "ServiceMonitor needs endpoints and a selector");
    continue;
  }
  const path = group
    ? `kubernetes-models/${group}/${version}/${o.kind}`
    : `kubernetes-models/${version}/${o.kind}`;
  const mod = await import(path);
  try {
    new mod[o.kind](o).validate();
    console.log(`schema ok: ${o.kind}/${o.metadata.name}`);
  } catch (e) {
    failures.push(`${o.kind}/${o.metadata.name}: ${e.message}`);
  }
}

const of = (kind) => objects.filter((o) => o.kind === kind);
const [deployment] = of("Deployment");
check(deployment, "a Deployment");
const pod = deployment?.spec?.template?.spec ?? {};
const container = pod.containers?.[0] ?? {};
check(pod.securityContext?.runAsNonRoot === true, "runAsNonRoot");
check(pod.securityContext?.runAsUser > 0, "a non-root runAsUser");
check(container.securityContext?.readOnlyRootFilesystem === true,
      "readOnlyRootFilesystem");
check(container.securityContext?.allowPrivilegeEscalation === false,
      "allowPrivilegeEscalation false");
check(container.securityContext?.capabilities?.drop?.includes("ALL"),
      "capabilities dropped");
check(container.readinessProbe?.httpGet?.path === "/readyz", "readiness /readyz");
check(container.livenessProbe?.httpGet?.path === "/healthz", "liveness /healthz");
check(container.resources?.requests?.cpu && container.resources?.requests?.memory,
      "resource requests");
check(container.resources?.limits?.cpu && container.resources?.limits?.memory,
      "resource limits");
const secretVolume = (pod.volumes ?? []).find((v) => v.secret);
check(secretVolume && (secretVolume.secret.defaultMode & 0o007) === 0,
      "secrets mounted as files, not readable by others");
check((container.volumeMounts ?? []).some((m) => m.name === secretVolume?.name),
      "the secret volume is mounted");
check(!(container.env ?? []).some((e) => e.valueFrom?.secretKeyRef),
      "no secret in environment variables");
check(of("PodDisruptionBudget").length === 1, "a PodDisruptionBudget");
check(of("ServiceMonitor").length === 1, "a ServiceMonitor");
check(of("NetworkPolicy").length >= 1, "a NetworkPolicy");
const flags = of("ConfigMap")[0]?.data?.["snaptund.flags"] ?? "";
if (role === "gateway") {
  const udp = of("Service").find((s) =>
    s.spec.ports.some((p) => p.protocol === "UDP"));
  check(udp, "a UDP Service");
  check(udp?.spec?.externalTrafficPolicy === "Local",
        "the UDP Service keeps source addresses (externalTrafficPolicy: Local)");
  check(flags.includes("--gateway_listen="), "the gateway flag");
  check(container.ports?.some((p) => p.protocol === "UDP"), "a UDP port");
} else {
  check(!flags.includes("--gateway_listen="), "no gateway flag off the gateway");
}
if (role === "client") {
  check(flags.includes("--snap_token_file="), "the SNAP token file");
}

if (failures.length > 0) {
  for (const f of failures) console.error(`FAIL ${role}: ${f}`);
  process.exit(1);
}
console.log(`${role}: ${objects.length} objects, every check passed`);
