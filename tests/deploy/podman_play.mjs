// Turns one rendered overlay into what Debian's podman 4.3 can play, and
// tells the kube play test what the manifest asks of the kubelet that
// podman 4.3 does not do (kube_play_test.sh does those by hand).
//
//   node podman_play.mjs play IN.yaml OUT.yaml IMAGE REPLICAS [NAME=HOSTPORT,...]
//     Keeps the ConfigMaps and the Deployment (podman 4.3 skips every other
//     kind), with IMAGE and REPLICAS. Container ports named in the list
//     are published on 127.0.0.1 at HOSTPORT; every other container port
//     is dropped, because podman 4.3 publishes each containerPort on the
//     host at the same number, and two pods of one Deployment would then
//     collide (pods reach each other on the podman network regardless).
//     Probes are dropped: podman 4.3 turns only the livenessProbe into a
//     healthcheck, run as `/bin/sh -c curl ...` (the image has neither,
//     and a named port becomes port 0) by systemd timers, restarting the
//     container when it fails; the test probes /healthz and /readyz itself.
//   node podman_play.mjs facts IN.yaml PREFIX
//     Prints shell assignments PREFIX_NAME=value: the Deployment, the
//     Secret volume (name, defaultMode, the pod's fsGroup and runAsUser),
//     terminationGracePeriodSeconds, container ports and the headless
//     Service's selector as `podman pod ps --filter` arguments.
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";

const [command, input, ...rest] = process.argv.slice(2);
const objects = parseAllDocuments(readFileSync(input, "utf8"))
  .map((d) => d.toJSON())
  .filter(Boolean);
const deployments = objects.filter((o) => o.kind === "Deployment");
if (deployments.length !== 1) {
  console.error(`${input}: expected one Deployment, found ${deployments.length}`);
  process.exit(1);
}
const [deployment] = deployments;
const pod = deployment.spec.template.spec;

if (command === "play") {
  const [output, image, replicas, publish = ""] = rest;
  const hostPorts = Object.fromEntries(
    publish.split(",").filter(Boolean).map((p) => p.split("=")),
  );
  deployment.spec.replicas = Number(replicas);
  for (const c of pod.containers) {
    c.image = image;
    delete c.livenessProbe;
    delete c.readinessProbe;
    delete c.startupProbe;
    c.ports = (c.ports ?? [])
      .filter((p) => hostPorts[p.name])
      .map((p) => ({ ...p, hostIP: "127.0.0.1", hostPort: Number(hostPorts[p.name]) }));
  }
  const skipped = objects
    .filter((o) => !["ConfigMap", "Deployment"].includes(o.kind))
    .map((o) => `${o.kind}/${o.metadata.name}`);
  const kept = objects.filter((o) => ["ConfigMap", "Deployment"].includes(o.kind));
  writeFileSync(output, kept.map((o) => stringify(o)).join("---\n"));
  console.error(`not played by podman (checked by meaning.mjs): ${skipped.join(", ")}`);
} else if (command === "facts") {
  const [prefix] = rest;
  const secret = (pod.volumes ?? []).find((v) => v.secret);
  const container = pod.containers[0];
  const mount = (container.volumeMounts ?? []).find((m) => m.name === secret?.name);
  const headless = objects.find(
    (o) => o.kind === "Service" && o.spec?.clusterIP === "None",
  );
  const port = (name) =>
    (container.ports ?? []).find((p) => p.name === name)?.containerPort ?? "";
  const facts = {
    DEPLOYMENT: deployment.metadata.name,
    SECRET_NAME: secret?.secret?.secretName ?? "",
    SECRET_MODE: (secret?.secret?.defaultMode ?? 0o644).toString(8).padStart(4, "0"),
    SECRET_DIR: mount?.mountPath ?? "",
    FS_GROUP: pod.securityContext?.fsGroup ?? "",
    RUN_AS_USER: pod.securityContext?.runAsUser ?? "",
    GRACE: pod.terminationGracePeriodSeconds ?? 30,
    GRPC_PORT: port("grpc"),
    METRICS_PORT: port("metrics"),
    UDP_PORT: port("data-plane"),
    HEADLESS: headless?.metadata?.name ?? "",
    HEADLESS_FILTER: Object.entries(headless?.spec?.selector ?? {})
      .map(([k, v]) => `--filter=label=${k}=${v}`)
      .join(" "),
  };
  for (const [k, v] of Object.entries(facts)) {
    console.log(`${prefix}_${k}='${String(v).replaceAll("'", "")}'`);
  }
} else {
  console.error("usage: podman_play.mjs play|facts IN.yaml ...");
  process.exit(2);
}
