import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { parseHostPort } from '@overlay/common';
import { CONFIG_ROLES, loadRoleConfig, type ConfigRole } from '../src/configs.js';
import { overlay, requireCommand } from '../../../test/helpers.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const SYSTEMD = join(DEPLOY, 'systemd');
const KUBERNETES = join(DEPLOY, 'kubernetes');
/** Where the image and the units install the repository. */
const INSTALL = '/opt/overlay';
const { bin } = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { bin: { overlay: string } };
const ENTRY = join(INSTALL, 'packages/cli', bin.overlay);

/** Every command `overlay --help` lists: what a unit or manifest may run. */
async function cliCommands(): Promise<string[]> {
  const { stdout } = await overlay(['--help']);
  const section = stdout.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z-]+)/gm)].map((match) => match[1] as string);
}

/** Each role's listeners, as [protocol, port] pairs, read from a parsed config of that role. */
function listenersOf(role: ConfigRole, config: Record<string, any>): { name: string; protocol: string; port: number }[] {
  const tcp = (name: string, address: string) => ({ name, protocol: 'TCP', port: parseHostPort(address).port });
  switch (role) {
    case 'manager':
      return [tcp('listen', config.listen), ...(config.admin ? [tcp('admin', config.admin)] : [])];
    case 'back-end':
      return [tcp('tunnel.listen', config.tunnel.listen), tcp('admin', config.admin)];
    case 'front-end':
      return [tcp('http.listen', config.http.listen), tcp('admin', config.admin)];
    case 'redirector':
      // `listen` is one address or a list of them; each answers on UDP and TCP.
      return [
        ...[config.listen].flat().flatMap((listen: { port: number }) => [
          { name: 'listen', protocol: 'UDP', port: listen.port },
          { name: 'listen', protocol: 'TCP', port: listen.port },
        ]),
        ...(config.admin ? [{ name: 'admin', protocol: 'TCP', port: config.admin.port }] : []),
      ];
  }
}

/** The admin port of a parsed config: where /healthz is. */
function adminPortOf(role: ConfigRole, config: Record<string, any>): number {
  return listenersOf(role, config).find((listener) => listener.name === 'admin')?.port ?? -1;
}

// ---- systemd ------------------------------------------------------------------------------------

const units = readdirSync(SYSTEMD).filter((name) => name.endsWith('.service'));

test('every role has a systemd unit, and systemd-analyze verify finds nothing to say about any of them', async (t) => {
  await requireCommand('systemd-analyze', 'systemd');
  t.deepEqual(units.sort(), CONFIG_ROLES.map((role) => `overlay-${role}.service`).sort());
  for (const unit of units) {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', join(SYSTEMD, unit)]).catch((err: { stdout: string; stderr: string }) => err);
    t.is(`${stdout}${stderr}`.trim(), '', unit);
  }
});

test('systemd-analyze verify does fail on a broken unit (so the check above means something)', async (t) => {
  await requireCommand('systemd-analyze', 'systemd');
  const dir = mkdtempSync(join(tmpdir(), 'overlay-units-'));
  const broken = readFileSync(join(SYSTEMD, 'overlay-manager.service'), 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=sometimes');
  writeFileSync(join(dir, 'overlay-manager.service'), broken);
  const result = await run('systemd-analyze', ['verify', join(dir, 'overlay-manager.service')]).then(
    ({ stdout, stderr }) => `${stdout}${stderr}`,
    (err: { stdout: string; stderr: string }) => `${err.stdout}${err.stderr}`,
  );
  t.regex(result, /protect system value/i);
});

test('each unit runs its role with a checked config, reloads through SIGHUP, and is hardened', async (t) => {
  const commands = await cliCommands();
  for (const unit of units) {
    const text = readFileSync(join(SYSTEMD, unit), 'utf8');
    const role = /^overlay-(.+)\.service$/.exec(unit)?.[1] as ConfigRole;
    const values = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1] as string);
    const config = `/etc/overlay/${role}.yaml`;
    t.true(commands.includes(role), `${role} is an overlay command`);
    t.deepEqual(values('ExecStart'), [`/usr/bin/node ${ENTRY} ${role} --config ${config}`], unit);
    const check = `/usr/bin/node ${ENTRY} check --role ${role} --config ${config}`;
    t.deepEqual(values('ExecStartPre'), [check], unit);
    t.deepEqual(values('ExecReload'), [check, '/bin/kill -HUP $MAINPID'], unit);
    for (const [key, value] of [['DynamicUser', 'yes'], ['ProtectSystem', 'strict'], ['NoNewPrivileges', 'yes'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes']]) {
      t.deepEqual(values(key as string), [value], `${unit} ${key}`);
    }
    t.true(Number(values('LimitNOFILE')[0]) >= 65_536, `${unit} LimitNOFILE`);
  }
});

test('the sysctl drop-in sets every host setting operations.md asks for', (t) => {
  const operations = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const asked = [...operations.matchAll(/`sysctl -w ([a-z0-9_.]+)=(\d+)`/g)].map((match) => [match[1], match[2]]);
  t.true(asked.length >= 2);
  const dropIn = readFileSync(join(SYSTEMD, '90-overlay.conf'), 'utf8');
  const set = new Map([...dropIn.matchAll(/^([a-z0-9_.]+) = (\d+)$/gm)].map((match) => [match[1], match[2]]));
  for (const [key, value] of asked) t.is(set.get(key as string), value, key);
});

// ---- Containerfile ------------------------------------------------------------------------------

test('the Containerfile builds in one stage and runs the overlay entry point unprivileged in another', (t) => {
  const text = readFileSync(join(DEPLOY, 'Containerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  t.true(stages.length >= 2, 'multi-stage');
  const final = stages.at(-1) as string;
  t.notRegex(final, /^RUN /m, 'nothing is fetched or built in the run stage');
  t.regex(final, /^COPY --from=build /m);
  t.regex(final, /^USER (?!root)\w+/m);
  const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(final)?.[1] ?? '[]') as string[];
  t.deepEqual(entrypoint, ['node', ENTRY]);
  t.true(existsSync(join(ROOT, ENTRY.slice(INSTALL.length + 1))), 'the entry point is what pnpm build writes');
  t.regex(text, /pnpm install --frozen-lockfile/);
});

// ---- Kubernetes ---------------------------------------------------------------------------------

type Doc = Record<string, any>;
const manifestFiles = readdirSync(KUBERNETES).filter((name) => name.endsWith('.yaml'));
const docs: Doc[] = manifestFiles
  .flatMap((name) =>
    parseAllDocuments(readFileSync(join(KUBERNETES, name), 'utf8')).map((doc): Doc => {
      if (doc.errors.length) throw new Error(`${name}: ${doc.errors[0]?.message}`);
      return { ...(doc.toJS() as Doc), file: name };
    }),
  )
  .filter((doc) => doc.kind);
const workloads = docs.filter((doc) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(doc.kind));
const byName = (kind: string, name: string) => docs.find((doc) => doc.kind === kind && doc.metadata?.name === name);

/** Sample values for what the downward API and the Secrets give a container. */
function containerEnv(container: Doc): Record<string, string> {
  const samples: Record<string, string> = { 'metadata.name': 'overlay-pod-0', 'status.podIP': '10.0.0.7', 'spec.nodeName': 'node-1' };
  return Object.fromEntries(
    (container.env ?? []).map((entry: Doc) => {
      if (entry.value !== undefined) return [entry.name, entry.value];
      const field = entry.valueFrom?.fieldRef?.fieldPath;
      if (field) return [entry.name, samples[field] ?? `unknown field ${field}`];
      const ref = entry.valueFrom?.secretKeyRef;
      const secret = byName('Secret', ref?.name);
      const value = secret?.stringData?.[ref?.key];
      if (value === undefined) throw new Error(`${entry.name}: no Secret ${ref?.name} with key ${ref?.key}`);
      return [entry.name, value];
    }),
  );
}

/** Loads a container's config file (from its ConfigMap volume) with the container's environment. */
async function containerConfig(workload: Doc, container: Doc, role: ConfigRole, path: string): Promise<Record<string, any>> {
  const mount = container.volumeMounts.find((item: Doc) => path.startsWith(`${item.mountPath}/`));
  const volume = workload.spec.template.spec.volumes.find((item: Doc) => item.name === mount?.name);
  const configMap = byName('ConfigMap', volume?.configMap?.name);
  const text = configMap?.data?.[path.slice(mount.mountPath.length + 1)];
  if (text === undefined) throw new Error(`${workload.metadata.name}: ${path} is in no ConfigMap`);
  const file = join(mkdtempSync(join(tmpdir(), 'overlay-manifest-')), `${role}.yaml`);
  writeFileSync(file, text);
  const env = containerEnv(container);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return (await loadRoleConfig[role](file)) as Record<string, any>;
  } finally {
    for (const key of Object.keys(env)) if (saved[key] === undefined) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

/**
 * Why a cluster-internal URL reaches nothing, or undefined: `svc.ns.svc` must be a Service with that port;
 * `pod.svc.ns.svc` a pod of a StatefulSet whose headless Service that is.
 */
function reachable(text: string): string | undefined {
  const url = new URL(text);
  const parts = url.hostname.split('.');
  if (parts.at(-1) !== 'svc') return `${url.hostname} is not a cluster Service name`;
  const [pod, service, namespace] = parts.length === 4 ? parts : [undefined, ...parts];
  const target = byName('Service', service as string);
  if (!target || target.metadata.namespace !== namespace) return `no Service ${service} in ${namespace}`;
  if (!target.spec.ports.some((port: Doc) => port.port === Number(url.port))) return `Service ${service} has no port ${url.port}`;
  if (pod === undefined) return undefined;
  if (target.spec.clusterIP !== 'None') return `Service ${service} is not headless: ${pod} has no name`;
  const set = workloads.find((item) => item.kind === 'StatefulSet' && item.spec.serviceName === service);
  const ordinal = Number(pod.slice(`${set?.metadata.name}-`.length));
  if (!set || !pod.startsWith(`${set.metadata.name}-`) || !(ordinal < set.spec.replicas)) return `no pod ${pod} in a StatefulSet of ${service}`;
  return undefined;
}

test('the kustomization lists every manifest, and every manifest parses', (t) => {
  const kustomization = docs.find((doc) => doc.kind === 'Kustomization');
  t.deepEqual([...(kustomization?.resources ?? [])].sort(), manifestFiles.filter((name) => name !== 'kustomization.yaml').sort());
  t.true(workloads.length >= 4);
});

test('every workload runs an overlay role on a config its schema accepts, with the ports and probes that config really uses', async (t) => {
  const commands = await cliCommands();
  const roles = new Set<string>();
  for (const workload of workloads) {
    const name = workload.metadata.name as string;
    const template = workload.spec.template;
    t.deepEqual(workload.spec.selector.matchLabels, template.metadata.labels, `${name}: selector matches its pods`);
    // Overlay's own image; etcd (the managers' store) is checked through the URLs that reach it.
    for (const container of (template.spec.containers as Doc[]).filter((item) => String(item.image).startsWith('overlay:'))) {
      t.deepEqual(container.command, ['node', ENTRY], `${name}: the image's entry point`);
      const [role, flag, path] = container.args as [ConfigRole, string, string];
      t.true(commands.includes(role) && (CONFIG_ROLES as readonly string[]).includes(role), `${name}: ${role} is an overlay role`);
      t.is(flag, '--config');
      roles.add(role);
      const config = await containerConfig(workload, container, role, path);
      const ports = (container.ports ?? []) as Doc[];
      const listeners = listenersOf(role, config);
      t.deepEqual(
        ports.map((port) => `${port.protocol}/${port.containerPort}`).sort(),
        listeners.map((listener) => `${listener.protocol}/${listener.port}`).sort(),
        `${name}: container ports are the config's listeners`,
      );
      const admin = adminPortOf(role, config);
      const portNumber = (port: number | string) => (typeof port === 'number' ? port : ports.find((item) => item.name === port)?.containerPort);
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        t.truthy(probe, `${name}: probes`);
        const target = probe.httpGet ?? probe.tcpSocket;
        t.is(portNumber(target.port), admin, `${name}: probes go to the admin port`);
        if (probe.httpGet) t.is(probe.httpGet.path, '/healthz');
      }
      const urls: string[] = [config.manager?.url ?? [], config.store?.etcd?.endpoints ?? []].flat();
      if (role !== 'manager') t.true(urls.length > 0, `${name}: follows the managers`);
      for (const url of urls) t.is(reachable(url), undefined, `${name}: ${url}`);
    }
  }
  t.deepEqual([...roles].sort(), [...CONFIG_ROLES].sort(), 'every role is deployed');
});

test('every Service selects a workload and targets ports its pods name, with the same protocol', async (t) => {
  for (const service of docs.filter((doc) => doc.kind === 'Service')) {
    const workload = workloads.find((item) => Object.entries(service.spec.selector).every(([key, value]) => item.spec.template.metadata.labels[key] === value));
    t.truthy(workload, `${service.metadata.name} selects a workload`);
    if (!workload) continue;
    t.is(workload.metadata.namespace, service.metadata.namespace);
    const ports = (workload.spec.template.spec.containers as Doc[]).flatMap((container) => container.ports ?? []) as Doc[];
    for (const port of service.spec.ports as Doc[]) {
      const target = ports.find((item) => item.name === port.targetPort || item.containerPort === port.targetPort);
      t.truthy(target, `${service.metadata.name}: target port ${port.targetPort}`);
      t.is(target?.protocol, port.protocol, `${service.metadata.name}: ${port.name} protocol`);
    }
  }
});
