// Checks what the rendered manifests mean, for the objects podman cannot
// play and a cluster would: it builds sample pods (each Deployment's
// replicas with their template's labels, an orchestrator labelled only
// snaptun.io/api-client=true, one in another namespace, a Prometheus pod
// in `monitoring`, an unrelated pod, and a host on the internet) and
// evaluates the selectors against them, for each overlay alone and for
// both overlays in one namespace:
//   - NetworkPolicy: who may reach the API, the metrics port and the
//     gateway's UDP port of which pod (and nothing else);
//   - ServiceMonitor: every snaptund pod is scraped exactly once, on its
//     metrics port, by its own role's monitor;
//   - Deployment, Service, headless Service, PodDisruptionBudget and
//     topology spread select exactly their own role's pods;
//   - Services route to the ports the daemon's flags listen on; the
//     gateway's UDP Service keeps client addresses (externalTrafficPolicy
//     Local);
//   - the mounted Secret is the one docs/OPERATIONS.md tells the operator
//     to create (its `kubectl create secret generic NAME` lines), with
//     every key the flags read;
//   - terminationGracePeriodSeconds covers --lame_duck plus the drain.
//   node meaning.mjs OPERATIONS.md CLIENT.yaml GATEWAY.yaml
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [docsFile, clientFile, gatewayFile] = process.argv.slice(2);
if (!gatewayFile) {
  console.error("usage: node meaning.mjs OPERATIONS.md CLIENT.yaml GATEWAY.yaml");
  process.exit(2);
}
const load = (file) =>
  parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJSON())
    .filter(Boolean);
const rendered = { client: load(clientFile), gateway: load(gatewayFile) };

// Seconds the drain itself may take after the lame duck: closing tunnels
// and streams, then the gRPC server's 5 s grace (docs/OPERATIONS.md).
const DRAIN_BUDGET_SECONDS = 15;
const NS = "snaptun";
const NAMESPACE_LABELS = {
  [NS]: { "kubernetes.io/metadata.name": NS },
  monitoring: { "kubernetes.io/metadata.name": "monitoring" },
  other: { "kubernetes.io/metadata.name": "other" },
};

const failures = [];
const fail = (message) => {
  if (!failures.includes(message)) failures.push(message);
};
const check = (ok, message) => {
  if (!ok) fail(message);
  return ok;
};

// ---- selectors --------------------------------------------------------

// A LabelSelector (matchLabels, matchExpressions); {} selects everything.
function labelSelectorMatches(selector, labels) {
  if (selector == null) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    const ok = {
      In: inValues,
      NotIn: !inValues,
      Exists: has,
      DoesNotExist: !has,
    }[e.operator];
    if (ok === undefined) throw new Error(`unknown operator ${e.operator}`);
    if (!ok) return false;
  }
  return true;
}

// A Service's spec.selector (a plain map): empty or absent selects no pod.
function serviceSelects(service, pod) {
  const selector = service.spec?.selector ?? {};
  if (Object.keys(selector).length === 0) return false;
  if (pod.external || pod.namespace !== NS) return false;
  return Object.entries(selector).every(([k, v]) => pod.labels[k] === v);
}

// A container port by number or name, on a pod.
function resolvePort(port, pod, protocol = "TCP") {
  if (typeof port === "number") return port;
  for (const c of pod.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === port && (p.protocol ?? "TCP") === protocol) {
        return p.containerPort;
      }
    }
  }
  return undefined;
}

// ---- sample pods ------------------------------------------------------

function podsOf(deployment, role) {
  const template = deployment.spec?.template ?? {};
  const replicas = Math.max(deployment.spec?.replicas ?? 1, 2);
  const pods = [];
  for (let i = 0; i < replicas; i++) {
    pods.push({
      name: `${deployment.metadata.name}-${i}`,
      role,
      deployment: deployment.metadata.name,
      namespace: NS,
      // The ReplicaSet adds pod-template-hash; selectors must not need it.
      labels: {
        ...(template.metadata?.labels ?? {}),
        "pod-template-hash": `${role}5d8f`,
      },
      containers: template.spec?.containers ?? [],
    });
  }
  return pods;
}

const OTHERS = [
  {
    name: "orchestrator",
    namespace: NS,
    labels: { "snaptun.io/api-client": "true" },
  },
  {
    name: "orchestrator-in-another-namespace",
    namespace: "other",
    labels: { "snaptun.io/api-client": "true" },
  },
  {
    name: "prometheus",
    namespace: "monitoring",
    labels: { "app.kubernetes.io/name": "prometheus" },
  },
  { name: "unrelated", namespace: NS, labels: { app: "web" } },
  { name: "internet", external: true, namespace: null, labels: {} },
];

// ---- NetworkPolicy ----------------------------------------------------

function peerMatches(peer, source) {
  if (peer.ipBlock) {
    // Only a block covering everything is taken to admit the internet;
    // pod IPs are not modelled.
    return (
      source.external === true &&
      ["0.0.0.0/0", "::/0"].includes(peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).length
    );
  }
  if (source.external) return false;
  const namespaceOk = peer.namespaceSelector
    ? labelSelectorMatches(
        peer.namespaceSelector,
        NAMESPACE_LABELS[source.namespace] ?? {},
      )
    : source.namespace === NS;
  const podOk = peer.podSelector
    ? labelSelectorMatches(peer.podSelector, source.labels)
    : true;
  return namespaceOk && podOk;
}

function portMatches(ports, target, port, protocol) {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined) return true;
    const first = resolvePort(p.port, target, protocol);
    return p.endPort ? port >= first && port <= p.endPort : port === first;
  });
}

function admitted(policies, target, source, port, protocol) {
  const applying = policies.filter(
    (p) =>
      (p.spec?.policyTypes ?? ["Ingress"]).includes("Ingress") &&
      target.namespace === NS &&
      labelSelectorMatches(p.spec?.podSelector, target.labels),
  );
  if (applying.length === 0) return true; // Not isolated.
  return applying.some((p) =>
    (p.spec.ingress ?? []).some(
      (rule) =>
        (!rule.from || rule.from.length === 0 ||
          rule.from.some((peer) => peerMatches(peer, source))) &&
        portMatches(rule.ports, target, port, protocol),
    ),
  );
}

// ---- one namespace holding some overlays ------------------------------

function flagsOf(objects, deployment) {
  const volume = (deployment.spec.template.spec.volumes ?? []).find(
    (v) => v.configMap,
  );
  const map = objects.find(
    (o) => o.kind === "ConfigMap" && o.metadata.name === volume?.configMap?.name,
  );
  check(map, `${deployment.metadata.name} mounts a ConfigMap of its overlay`);
  const text = map?.data?.["snaptund.flags"] ?? "";
  const flags = {};
  for (const line of text.split("\n")) {
    const m = line.trim().match(/^--([a-z_]+)=(.*)$/);
    if (m) flags[m[1]] = m[2];
  }
  return flags;
}

const portOf = (address) => Number(String(address ?? "").split(":").pop());

function seconds(duration) {
  if (duration === undefined) return 0;
  let total = 0;
  const units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  const parts = String(duration).matchAll(/([0-9.]+)(h|ms|us|ns|m|s)/g);
  for (const [, value, unit] of parts) total += Number(value) * units[unit];
  return total;
}

function checkNamespace(label, roles) {
  const objects = roles.flatMap((role) =>
    rendered[role].map((o) => ({ ...o, role })),
  );
  const of = (kind) => objects.filter((o) => o.kind === kind);
  const ours = [];
  for (const role of roles) {
    const deployments = of("Deployment").filter((d) => d.role === role);
    if (!check(deployments.length === 1, `${label}: one ${role} Deployment`)) {
      continue;
    }
    ours.push(...podsOf(deployments[0], role));
  }
  const pods = [...ours, ...OTHERS];
  const podNames = (list) => list.map((p) => p.name).sort().join(", ") || "none";
  const sameSet = (a, b) => podNames(a) === podNames(b);
  const own = (role) => ours.filter((p) => p.role === role);

  // No object of one overlay replaces one of the other.
  const seen = new Set();
  for (const o of objects) {
    const key = `${o.kind}/${o.metadata.name}`;
    check(!seen.has(key), `${label}: two objects named ${key}`);
    seen.add(key);
  }

  // Workload selectors: exactly the role's own pods.
  for (const d of of("Deployment")) {
    const selected = pods.filter(
      (p) => !p.external && labelSelectorMatches(d.spec.selector, p.labels),
    );
    check(
      sameSet(selected, own(d.role)),
      `${label}: Deployment ${d.metadata.name} selects ${podNames(selected)}, ` +
        `not only its own pods`,
    );
    const spread = d.spec.template.spec.topologySpreadConstraints ?? [];
    for (const [key, when] of [
      ["topology.kubernetes.io/zone", "ScheduleAnyway"],
      ["kubernetes.io/hostname", null],
    ]) {
      const c = spread.find((s) => s.topologyKey === key);
      if (!check(c, `${label}: ${d.metadata.name} spreads over ${key}`)) {
        continue;
      }
      check(!when || c.whenUnsatisfiable === when,
            `${label}: ${d.metadata.name} spreads over ${key} ${when}`);
      check(c.maxSkew >= 1, `${label}: ${d.metadata.name} maxSkew`);
      const counted = pods.filter(
        (p) => !p.external && labelSelectorMatches(c.labelSelector, p.labels),
      );
      check(
        sameSet(counted, own(d.role)),
        `${label}: ${d.metadata.name}'s spread over ${key} counts ` +
          `${podNames(counted)}, not exactly its own role's pods`,
      );
    }
  }
  for (const o of [...of("Service"), ...of("PodDisruptionBudget")]) {
    const selected = pods.filter((p) =>
      o.kind === "Service"
        ? serviceSelects(o, p)
        : !p.external && p.namespace === NS &&
          labelSelectorMatches(o.spec.selector, p.labels),
    );
    check(
      sameSet(selected, own(o.role)),
      `${label}: ${o.kind} ${o.metadata.name} selects ${podNames(selected)}, ` +
        `not exactly the ${o.role} pods`,
    );
  }

  // Per role: ports, the headless Service, the UDP Service, the Secret,
  // the drain.
  for (const role of roles) {
    const deployment = of("Deployment").find((d) => d.role === role);
    if (!deployment) continue;
    const pod = own(role)[0];
    const podSpec = deployment.spec.template.spec;
    const flags = flagsOf(objects, deployment);
    const grpc = resolvePort("grpc", pod);
    const metrics = resolvePort("metrics", pod);
    check(grpc === portOf(flags.grpc_listen),
          `${label}: ${role} container port grpc is where --grpc_listen listens`);
    check(metrics === portOf(flags.metrics_listen),
          `${label}: ${role} container port metrics is where --metrics_listen listens`);

    const services = of("Service").filter((s) => s.role === role);
    const headless = services.filter((s) => s.spec?.clusterIP === "None");
    if (check(headless.length === 1,
              `${label}: one headless Service (clusterIP: None) for ${role}`)) {
      const h = headless[0];
      check(h.spec.publishNotReadyAddresses !== true,
            `${label}: ${h.metadata.name} leaves unready (draining) pods out of DNS`);
      check(
        (h.spec.ports ?? []).some(
          (p) => resolvePort(p.targetPort ?? p.port, pod) === grpc,
        ),
        `${label}: ${h.metadata.name} carries the gRPC port`,
      );
    }
    const udp = services.filter((s) =>
      (s.spec?.ports ?? []).some((p) => p.protocol === "UDP"),
    );
    if (role === "gateway") {
      if (check(udp.length === 1, `${label}: one UDP Service for the gateway`)) {
        const s = udp[0];
        check(s.spec.type === "LoadBalancer",
              `${label}: ${s.metadata.name} is a LoadBalancer`);
        check(s.spec.externalTrafficPolicy === "Local",
              `${label}: ${s.metadata.name} keeps client source addresses ` +
                `(externalTrafficPolicy: Local)`);
        const p = s.spec.ports.find((x) => x.protocol === "UDP");
        check(
          resolvePort(p.targetPort ?? p.port, pod, "UDP") ===
            portOf(flags.gateway_listen),
          `${label}: ${s.metadata.name} routes to where --gateway_listen listens`,
        );
      }
    } else {
      check(udp.length === 0, `${label}: no UDP Service for the ${role} role`);
    }

    // The Secret the docs have the operator create, with every key read.
    const doc = docsSecrets[role];
    const volume = (podSpec.volumes ?? []).find((v) => v.secret);
    const container = podSpec.containers[0];
    const mount = (container.volumeMounts ?? []).find(
      (m) => m.name === volume?.name,
    );
    if (check(doc, `docs/OPERATIONS.md has a \`kubectl create secret generic\` ` +
                   `for the ${role} overlay`) &&
        check(volume && mount, `${label}: ${role} mounts a Secret`)) {
      check(
        volume.secret.secretName === doc.name,
        `${label}: the ${role} pods mount Secret "${volume.secret.secretName}" ` +
          `but docs/OPERATIONS.md creates "${doc.name}"`,
      );
      check(volume.secret.optional !== true,
            `${label}: the ${role} Secret is not optional`);
      const dir = mount.mountPath.replace(/\/$/, "") + "/";
      for (const [flag, value] of Object.entries(flags)) {
        if (!value.startsWith(dir)) continue;
        const key = value.slice(dir.length);
        check(doc.keys.includes(key),
              `${label}: --${flag} reads Secret key "${key}", which the ` +
                `docs' ${doc.name} does not have (${doc.keys.join(", ")})`);
      }
    }

    // SIGTERM: lame duck, then drain, inside the grace period.
    const lameDuck = seconds(flags.lame_duck);
    const grace = podSpec.terminationGracePeriodSeconds ?? 30;
    check(
      grace >= lameDuck + DRAIN_BUDGET_SECONDS,
      `${label}: ${role} terminationGracePeriodSeconds ${grace} < ` +
        `--lame_duck ${lameDuck} s + ${DRAIN_BUDGET_SECONDS} s of drain`,
    );
    const readiness = container.readinessProbe;
    check(readiness?.httpGet?.path === "/readyz",
          `${label}: ${role} readiness on /readyz`);
    check(lameDuck > 0,
          `${label}: ${role} sets --lame_duck (readiness fails before the ` +
            `drain, so endpoints stop sending new work first)`);
    if (lameDuck > 0 && readiness) {
      const notices = (readiness.periodSeconds ?? 10) *
        (readiness.failureThreshold ?? 3);
      check(lameDuck >= notices,
            `${label}: ${role} --lame_duck ${lameDuck} s is shorter than ` +
              `the ${notices} s the readiness probe needs to notice`);
    }
    check(!(podSpec.containers ?? []).some((c) => c.lifecycle?.preStop),
          `${label}: ${role} has no preStop hook (the daemon does its lame duck)`);
  }

  // NetworkPolicy: the full matrix of sources, targets and ports.
  const policies = of("NetworkPolicy");
  const gatewayUdp = 51820;
  for (const target of ours) {
    const grpc = resolvePort("grpc", target);
    const metrics = resolvePort("metrics", target);
    const udp = resolvePort("data-plane", target, "UDP") ?? gatewayUdp;
    for (const source of pods) {
      if (source === target) continue;
      const cases = [
        [grpc, "TCP", source.name === "orchestrator", "the API"],
        [metrics, "TCP", source.name === "prometheus", "metrics"],
        [udp, "UDP", target.role === "gateway", "the data plane"],
        [8080, "TCP", false, "another port"],
      ];
      for (const [port, protocol, expected, what] of cases) {
        const got = admitted(policies, target, source, port, protocol);
        check(
          got === expected,
          `${label}: NetworkPolicy ${got ? "admits" : "refuses"} ` +
            `${source.name} → ${target.role} pod ${protocol}/${port} ` +
            `(${what}); expected ${expected ? "admitted" : "refused"}`,
        );
      }
    }
  }

  // ServiceMonitor: each snaptund pod scraped exactly once, by its role's.
  const scrapes = new Map();
  for (const monitor of of("ServiceMonitor")) {
    const namespaces = monitor.spec.namespaceSelector;
    const inScope = !namespaces || namespaces.any ||
      (namespaces.matchNames ?? []).includes(NS);
    if (!inScope) continue;
    const services = of("Service").filter((s) =>
      labelSelectorMatches(monitor.spec.selector, s.metadata.labels ?? {}),
    );
    for (const endpoint of monitor.spec.endpoints ?? []) {
      for (const service of services) {
        const port = (service.spec.ports ?? []).find(
          (p) => p.name === endpoint.port,
        );
        if (!port) continue;
        for (const pod of pods.filter((p) => serviceSelects(service, p))) {
          const target = resolvePort(port.targetPort ?? port.port, pod);
          const list = scrapes.get(pod.name) ?? [];
          list.push({ monitor, service, target, path: endpoint.path });
          scrapes.set(pod.name, list);
        }
      }
    }
  }
  for (const pod of pods) {
    const list = scrapes.get(pod.name) ?? [];
    const via = list
      .map((s) => `${s.monitor.metadata.name} via ${s.service.metadata.name}`)
      .join(", ");
    if (!ours.includes(pod)) {
      check(list.length === 0, `${label}: ${pod.name} is scraped (${via})`);
      continue;
    }
    if (!check(list.length === 1,
               `${label}: ${pod.name} is scraped ${list.length} times` +
                 (via ? ` (${via})` : ""))) {
      continue;
    }
    const [s] = list;
    check(s.monitor.role === pod.role,
          `${label}: ${pod.name} is scraped by the ${s.monitor.role} monitor`);
    check(s.target === resolvePort("metrics", pod),
          `${label}: ${pod.name} is scraped on its metrics port`);
    check((s.path ?? "/metrics") === "/metrics",
          `${label}: ${pod.name} is scraped at /metrics`);
  }

  return { pods: ours, policies };
}

// ---- docs/OPERATIONS.md: the Secrets the operator creates -------------

function parseDocsSecrets(text) {
  // Shell lines continued with a backslash are one command.
  const commands = text.replace(/\\\n\s*/g, " ").split("\n");
  const secrets = {};
  let pending = [];
  for (const line of commands) {
    const create = line.match(/^\s*kubectl create secret generic (\S+)(.*)$/);
    if (create) {
      const keys = [...create[2].matchAll(/--from-file=(\S+)/g)].map(
        ([, spec]) =>
          spec.includes("=") ? spec.split("=")[0] : spec.split("/").pop(),
      );
      pending.push({ name: create[1], keys });
      continue;
    }
    const apply = line.match(/^\s*kubectl apply -k \S*overlays\/([a-z]+)/);
    if (apply) {
      for (const s of pending) {
        if (secrets[apply[1]]) {
          fail(`docs/OPERATIONS.md creates two Secrets for ${apply[1]}`);
        }
        secrets[apply[1]] = s;
      }
      pending = [];
    }
  }
  return secrets;
}

const docsSecrets = parseDocsSecrets(readFileSync(docsFile, "utf8"));
for (const [role, s] of Object.entries(docsSecrets)) {
  console.log(`docs: the ${role} overlay's Secret is ${s.name} ` +
              `(${s.keys.join(", ")})`);
}

for (const [label, roles] of [
  ["client", ["client"]],
  ["gateway", ["gateway"]],
  ["both overlays in one namespace", ["client", "gateway"]],
]) {
  const before = failures.length;
  const { pods, policies } = checkNamespace(label, roles);
  if (roles.length === 2) {
    // Who may reach what, for the log.
    for (const target of [pods[0], pods.at(-1)]) {
      const from = (port, protocol) =>
        [...pods, ...OTHERS]
          .filter((s) => s !== target &&
                  admitted(policies, target, s, port, protocol))
          .map((s) => s.name)
          .join(", ") || "nobody";
      console.log(`${label}: ${target.role} pod: API from ${from(
        resolvePort("grpc", target), "TCP")}; metrics from ${from(
        resolvePort("metrics", target), "TCP")}; UDP 51820 from ${from(
        51820, "UDP")}`);
    }
  }
  console.log(`${label}: ${failures.length === before
    ? "every meaning check passed" : `${failures.length - before} failures`}`);
}

if (failures.length > 0) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
