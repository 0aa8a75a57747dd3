/**
 * Static checks of the files in deploy/ that no test here can run (no Docker engine, no
 * Kubernetes): the Dockerfile, the compose file and the Kubernetes manifests are parsed and held
 * against the code they configure. The check that matters most: every STREAMBUS_* variable they
 * set names a setting of cli/config/schema.ts and resolves without error, so renaming a key fails
 * here instead of being silently ignored by a container. Ports must be the settings' defaults,
 * probes must hit paths a real admin server answers, the image's entrypoint must be what the build
 * produces, and the node-id snippets of the StatefulSets are run with sh for real.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { createMetrics, startAdminServer, type AdminServer } from '../../broker/observability/index.js';
import { envNamesOf, resolveConfig, settingKeys, settings } from '../../cli/config/index.js';
import { ErrorCode } from '../../proto/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

type Json = Record<string, unknown>;

function obj(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} is not a mapping`);
  return value as Json;
}
function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not a list`);
  return value;
}
function text(value: unknown, where: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`${where} is not a scalar`);
  return String(value);
}

/** Every environment variable name a setting is read from. */
const settingEnvNames = new Set(settingKeys.flatMap((key) => envNamesOf(key)));

/** The STREAMBUS_* names in `names` that no setting is read from (what a renamed key leaves behind). */
function unknownSettingNames(names: Iterable<string>): string[] {
  return [...names].filter((name) => name.startsWith('STREAMBUS_') && !settingEnvNames.has(name));
}

/** Resolves an environment as the CLI would; throws InvalidConfigError for a bad value. */
function resolveEnv(env: Record<string, string>): ReturnType<typeof resolveConfig> {
  return resolveConfig({ env });
}

const defaultPorts = {
  kafka: settings['kafka.port'].default,
  native: settings['native.port'].default,
  admin: settings['admin.port'].default,
  coordinator: settings['coordinator.port'].default,
  raft: settings['raft.port'].default,
  schemaRegistry: settings['schema.registry.port'].default,
};

// ---- The Dockerfile.

interface Instruction {
  readonly op: string;
  readonly args: string;
}

function dockerfile(): Instruction[] {
  const joined = read('deploy/docker/Dockerfile').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.indexOf(' ');
      return { op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

/** The instructions of each stage, by stage name (the last stage also as 'final'). */
function stages(instructions: readonly Instruction[]): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const instruction of instructions) {
    if (instruction.op === 'FROM') {
      current = [instruction];
      out.set(/ AS (\S+)$/i.exec(instruction.args)?.[1] ?? `stage-${out.size}`, current);
      out.set('final', current);
    } else {
      current?.push(instruction);
    }
  }
  return out;
}

/** ENV instructions as name → value (both `ENV a=b c=d` and `ENV a b`). */
function envOf(instructions: readonly Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of instructions) {
    if (op !== 'ENV') continue;
    for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[match[1]!] = match[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

/** Whether .dockerignore keeps `file` out of the build context (later rules win, `!` re-includes). */
function dockerIgnored(file: string): boolean {
  const rules = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const toRegExp = (glob: string): RegExp =>
    new RegExp(`^${glob.split('**').map((part) => part.replace(/[.+^${}()|[\]]/g, '\\$&').replace(/\*/g, '[^/]*')).join('.*').replace(/\.\*\//g, '(.*/)?')}$`);
  const prefixes = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const pattern = toRegExp(negated ? rule.slice(1) : rule);
    if (prefixes.some((prefix) => pattern.test(prefix))) ignored = !negated;
  }
  return ignored;
}

/** Relative imports of the non-test TypeScript files under `dir`, as repository paths. */
function relativeImports(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
      out.push(path.relative(root, path.resolve(path.dirname(file), match[1]!)));
    }
  }
  return out;
}

// ---- Kubernetes.

function k8sDocuments(): { file: string; doc: Json }[] {
  const kustomization = obj(parse(read('deploy/k8s/kustomization.yaml')), 'kustomization');
  const files = list(kustomization.resources, 'resources').map((r) => text(r, 'resource'));
  return files.flatMap((file) =>
    parseAllDocuments(read(`deploy/k8s/${file}`)).map((document, i) => {
      if (document.errors.length > 0) throw new Error(`${file} document ${i}: ${document.errors[0]!.message}`);
      return { file, doc: obj(document.toJSON(), `${file} document ${i}`) };
    }),
  );
}

function ofKind(kind: string): Json[] {
  return k8sDocuments()
    .map(({ doc }) => doc)
    .filter((doc) => doc.kind === kind);
}

const nameOf = (doc: Json): string => text(obj(doc.metadata, 'metadata').name, 'metadata.name');

function podSpec(statefulSet: Json): Json {
  return obj(obj(obj(statefulSet.spec, 'spec').template, 'template').spec, 'template.spec');
}

function container(statefulSet: Json): Json {
  return obj(list(podSpec(statefulSet).containers, 'containers')[0], 'container');
}

/** The container's environment as the process sees it: the ConfigMap, then `env`, with $(VAR) expanded. */
function containerEnv(statefulSet: Json, sample: Record<string, string>): Record<string, string> {
  const c = container(statefulSet);
  const env: Record<string, string> = {};
  for (const source of list(c.envFrom ?? [], 'envFrom')) {
    const ref = text(obj(obj(source, 'envFrom').configMapRef, 'configMapRef').name, 'configMapRef.name');
    const configMap = ofKind('ConfigMap').find((doc) => nameOf(doc) === ref);
    if (configMap === undefined) throw new Error(`ConfigMap ${ref} is not among the manifests`);
    for (const [name, value] of Object.entries(obj(configMap.data, 'data'))) env[name] = text(value, name);
  }
  for (const item of list(c.env ?? [], 'env')) {
    const e = obj(item, 'env item');
    const name = text(e.name, 'env name');
    env[name] = e.value === undefined ? (sample[name] ?? `<${name}>`) : expandK8s(text(e.value, name), env);
  }
  return env;
}

/** Kubernetes' $(VAR) expansion: `$$` is a literal `$`, a defined $(VAR) its value, others stay. */
function expandK8s(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? whole),
  );
}

function ports(statefulSet: Json): Map<string, number> {
  return new Map(
    list(container(statefulSet).ports, 'ports').map((p) => {
      const port = obj(p, 'port');
      return [text(port.name, 'port name'), Number(port.containerPort)] as const;
    }),
  );
}

function sh(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', script], { env, timeout: 10_000 }, (error, stdout, stderr) => (error === null ? resolve(stdout.trim()) : reject(new Error(stderr))));
  });
}

// ---- Compose.

function composeServices(): Map<string, Json> {
  const compose = obj(parse(read('deploy/docker/docker-compose.yml'), { merge: true }), 'compose');
  return new Map(Object.entries(obj(compose.services, 'services')).map(([name, service]) => [name, obj(service, name)]));
}

/** A compose environment with `${VAR:-default}` interpolated to its default. */
function composeEnv(service: Json): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(obj(service.environment, 'environment'))) {
    env[name] = text(value, name).replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, '$1');
  }
  return env;
}

const roleOf = (service: Json): string => text(list(service.command, 'command')[0], 'command');

let admin: AdminServer;
let scratch: string;

beforeAll(async () => {
  admin = await startAdminServer({ host: '127.0.0.1', port: 0, registry: createMetrics().registry });
  scratch = await mkdtemp(path.join(tmpdir(), 'streambus-deploy-'));
});

afterAll(async () => {
  await admin?.close();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

/** Whether the real admin server answers `probePath` (anything but 404). */
async function served(probePath: string): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${admin.port}${probePath}`);
  await response.arrayBuffer();
  return response.status !== 404;
}

describe('deploy > setting names', () => {
  it('reports a STREAMBUS_ variable whose key is not in the schema, as a renamed key would leave', () => {
    expect(unknownSettingNames(['STREAMBUS_NODE_ID', 'STREAMBUS_NATIVE_PORTS', 'STREAMBUS_BROKER_ID', 'POD_IP'])).toEqual(['STREAMBUS_NATIVE_PORTS', 'STREAMBUS_BROKER_ID']);
  });

  it('rejects a bad value of a declared setting with INVALID_CONFIG', () => {
    expect(() => resolveEnv({ STREAMBUS_NATIVE_PORT: '70000' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as Error);
  });
});

describe('deploy > Dockerfile', () => {
  const instructions = dockerfile();
  const byStage = stages(instructions);
  const final = byStage.get('final')!;

  it('builds in stages and runs a slim Node 20 image as a non-root user', () => {
    expect(instructions.filter((i) => i.op === 'FROM').length).toBeGreaterThanOrEqual(2);
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(read('deploy/docker/Dockerfile'))?.[1];
    expect(image).toMatch(/^node:20-.*slim$/);
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const copied = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const wanted of ['/src/node_modules', '/src/dist', 'package.json']) expect(copied.some((args) => args.includes(wanted))).toBe(true);
    expect(byStage.get('deps')?.some((i) => i.op === 'RUN' && i.args.includes('npm ci --omit=dev'))).toBe(true);
  });

  it('sets only declared settings, keeps data in a volume and exposes the default ports', () => {
    const env = envOf(final);
    expect(unknownSettingNames(Object.keys(env))).toEqual([]);
    const resolved = resolveEnv(Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('STREAMBUS_'))));
    expect(resolved.warnings).toEqual([]);
    const volume = final.find((i) => i.op === 'VOLUME')?.args;
    expect(volume).toContain(resolved.values['data.dir']);
    const exposed = final.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
    expect(exposed.sort((a, b) => a - b)).toEqual(Object.values(defaultPorts).sort((a, b) => a - b));
  });

  it('starts the compiled CLI that the build produces and package.json names as its bin', () => {
    const entrypoint = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint[0]).toBe('node');
    const script = entrypoint[1]!;
    expect(script).toMatch(/^dist\/.+\.js$/);
    const source = script.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    expect(existsSync(path.join(root, source))).toBe(true);
    const build = obj(JSON.parse(read('tsconfig.build.json')), 'tsconfig.build.json');
    expect(list(build.include, 'include')).toContain(source.split('/')[0]);
    const bin = obj(obj(JSON.parse(read('package.json')), 'package.json').bin, 'bin');
    expect(path.normalize(text(bin.streambus, 'bin'))).toBe(path.normalize(script));
    expect(existsSync(path.join(root, script))).toBe(true);
  });

  it('copies into the build stage every folder the build compiles and everything those import, none of it dockerignored', () => {
    const build = byStage.get('build')!;
    const copied = build.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    const include = list(obj(JSON.parse(read('tsconfig.build.json')), 'tsconfig').include, 'include').map((d) => text(d, 'include'));
    const needed = new Set([...include, ...include.flatMap((dir) => relativeImports(dir)), 'package.json', 'package-lock.json', 'tsconfig.json']);
    const covered = (file: string): boolean => copied.some((source) => file === source || file.startsWith(`${source}/`));
    expect([...needed].filter((file) => !covered(file))).toEqual([]);
    expect(copied.filter((source) => dockerIgnored(source))).toEqual([]);
    expect(dockerIgnored('node_modules')).toBe(true);
    expect(dockerIgnored('dist/cli/main.js')).toBe(true);
    expect(dockerIgnored('cli/run.test.ts')).toBe(true);
    expect(dockerIgnored('test/support/dev-server.ts')).toBe(false);
  });
});

describe('deploy > docker-compose.yml', () => {
  const services = composeServices();
  const coordinators = [...services].filter(([, s]) => roleOf(s) === 'coordinator');
  const brokers = [...services].filter(([, s]) => roleOf(s) === 'broker');

  it('runs three coordinators and three brokers, each with its own named volume at the data directory', () => {
    expect(coordinators).toHaveLength(3);
    expect(brokers).toHaveLength(3);
    const compose = obj(parse(read('deploy/docker/docker-compose.yml'), { merge: true }), 'compose');
    const declared = Object.keys(obj(compose.volumes, 'volumes'));
    const volumes = [...services.values()].map((s) => text(list(s.volumes, 'volumes')[0], 'volume'));
    const dataDir = resolveEnv(envOf(stages(dockerfile()).get('final')!)).values['data.dir'];
    for (const volume of volumes) {
      const [name, mount] = volume.split(':');
      expect(declared).toContain(name);
      expect(mount).toBe(dataDir);
    }
    expect(new Set(volumes).size).toBe(6);
  });

  it('sets only declared settings, with valid values and distinct node ids', () => {
    const ids = new Set<number>();
    for (const [name, service] of services) {
      const env = composeEnv(service);
      expect(unknownSettingNames(Object.keys(env)), name).toEqual([]);
      expect(Object.keys(env).filter((key) => !key.startsWith('STREAMBUS_')), name).toEqual([]);
      const resolved = resolveEnv(env);
      expect(resolved.warnings, name).toEqual([]);
      ids.add(resolved.values['node.id']);
    }
    expect(ids.size).toBe(6);
  });

  it('wires the coordinators and brokers together on the default ports', () => {
    const coordinatorNames = coordinators.map(([name]) => name).sort();
    for (const [name, service] of coordinators) {
      const values = resolveEnv(composeEnv(service)).values;
      expect(values['coordinator.port'], name).toBe(defaultPorts.coordinator);
      expect(values['raft.port'], name).toBe(defaultPorts.raft);
      const voters = (values['coordinator.voters'] ?? '').split(',');
      expect(voters.map((v) => v.replace(/^\d+@/, '').split(':')[0]).sort()).toEqual(coordinatorNames);
      expect(voters.every((v) => v.endsWith(`:${defaultPorts.raft}`))).toBe(true);
      expect(voters).toContain(`${values['node.id']}@${name}:${defaultPorts.raft}`);
      expect(values['admin.port'], name).toBe(defaultPorts.admin);
      // The addresses a coordinator records for itself are its service name, as its voters entry.
      expect(values['coordinator.advertised.host'], name).toBe(name);
      expect(values['raft.advertised.host'], name).toBe(name);
      expect(values['schema.registry.advertised.host'], name).toBe(name);
    }
    for (const [name, service] of brokers) {
      const values = resolveEnv(composeEnv(service)).values;
      expect(values['native.port'], name).toBe(defaultPorts.native);
      expect(values['admin.port'], name).toBe(defaultPorts.admin);
      expect(values['native.advertised.host'], name).toBe(name);
      expect(values['kafka.port'], name).toBe(defaultPorts.kafka);
      expect(values['kafka.advertised.host'], name).toBe(name);
      expect(values.coordinators.map((c) => c.split(':')[0]).sort()).toEqual(coordinatorNames);
      expect(values.coordinators.every((c) => c.endsWith(`:${defaultPorts.coordinator}`))).toBe(true);
      const containerPorts = list(service.ports, 'ports').map((p) => Number(text(p, 'port').split(':').at(-1)));
      expect(containerPorts.sort((a, b) => a - b)).toEqual([defaultPorts.kafka, defaultPorts.native, defaultPorts.admin].sort((a, b) => a - b));
      expect(Object.keys(obj(service.depends_on, 'depends_on')).sort()).toEqual(coordinatorNames);
    }
  });

  it('checks coordinator and broker health on /readyz of the admin port, a path the admin server serves', async () => {
    for (const [name, service] of [...coordinators, ...brokers]) {
      const test = list(obj(service.healthcheck, 'healthcheck').test, 'test').join(' ');
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]+)/.exec(test);
      expect(url, name).not.toBeNull();
      expect(Number(url![1])).toBe(defaultPorts.admin);
      expect(url![2]).toBe('/readyz');
      expect(await served(url![2]!)).toBe(true);
    }
  });
});

describe('deploy > Kubernetes manifests', () => {
  const statefulSets = ofKind('StatefulSet');
  const coordinator = statefulSets.find((s) => container(s).name === 'coordinator')!;
  const broker = statefulSets.find((s) => container(s).name === 'broker')!;
  const sample = { POD_IP: '10.1.2.3', POD_NAME: 'streambus-broker-1', POD_NAMESPACE: 'prod' };
  const coordinatorSample = { ...sample, POD_NAME: 'streambus-coordinator-1' };

  it('lists every manifest file in the kustomization', () => {
    const listed = list(obj(parse(read('deploy/k8s/kustomization.yaml')), 'kustomization').resources, 'resources');
    const files = readdirSync(path.join(root, 'deploy/k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files.sort());
  });

  it('runs coordinators and brokers as StatefulSets of 3 behind headless services', () => {
    expect(statefulSets).toHaveLength(2);
    const services = ofKind('Service');
    for (const set of [coordinator, broker]) {
      const spec = obj(set.spec, 'spec');
      expect(spec.replicas).toBe(3);
      const headless = services.find((s) => nameOf(s) === spec.serviceName);
      expect(headless, nameOf(set)).toBeDefined();
      expect(obj(headless!.spec, 'spec').clusterIP).toBe('None');
      const labels = obj(obj(obj(spec.template, 'template').metadata, 'metadata').labels, 'labels');
      expect(obj(headless!.spec, 'spec').selector).toEqual(labels);
      expect(obj(spec.selector, 'selector').matchLabels).toEqual(labels);
    }
  });

  it('has a PodDisruptionBudget with maxUnavailable 1 selecting each StatefulSet\'s pods', () => {
    const budgets = ofKind('PodDisruptionBudget');
    for (const set of [coordinator, broker]) {
      const labels = obj(obj(set.spec, 'spec').selector, 'selector').matchLabels;
      const budget = budgets.find((b) => JSON.stringify(obj(obj(b.spec, 'spec').selector, 'selector').matchLabels) === JSON.stringify(labels));
      expect(budget, nameOf(set)).toBeDefined();
      expect(obj(budget!.spec, 'spec').maxUnavailable).toBe(1);
    }
  });

  it('sets only declared settings with valid values, through the ConfigMap and the pod spec', () => {
    for (const set of [coordinator, broker]) {
      const env = containerEnv(set, sample);
      expect(unknownSettingNames(Object.keys(env)), nameOf(set)).toEqual([]);
      const streambus = Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('STREAMBUS_')));
      expect(resolveEnv(streambus).warnings, nameOf(set)).toEqual([]);
      for (const item of list(container(set).env ?? [], 'env')) {
        const value = obj(item, 'env').value;
        if (typeof value === 'string') expect(expandK8s(value, env), `${nameOf(set)} ${value}`).not.toMatch(/\$\(/);
      }
      expect(container(set).resources).toBeDefined();
    }
    const brokerValues = resolveEnv(containerEnv(broker, sample)).values;
    expect(brokerValues['native.advertised.host']).toBe('streambus-broker-1.streambus-broker.prod.svc.cluster.local');
    const coordinatorValues = resolveEnv(containerEnv(coordinator, coordinatorSample)).values;
    expect(coordinatorValues['coordinator.advertised.host']).toBe('streambus-coordinator-1.streambus-coordinator.prod.svc.cluster.local');
    // Raft: the very name the pod's coordinator.voters entry gives (node 2 is pod streambus-coordinator-1).
    const entry = (coordinatorValues['coordinator.voters'] ?? '').split(',').find((v) => v.startsWith('2@'));
    expect(entry).toBe(`2@${coordinatorValues['raft.advertised.host']}:${defaultPorts.raft}`);
  });

  it('names the coordinator pods by their headless-service DNS names in the voters and the coordinators list', () => {
    const values = resolveEnv(containerEnv(coordinator, sample)).values;
    const set = nameOf(coordinator);
    const service = text(obj(coordinator.spec, 'spec').serviceName, 'serviceName');
    const pods = [0, 1, 2].map((ordinal) => `${set}-${ordinal}.${service}`);
    expect(values['coordinator.voters']).toBe(pods.map((pod, ordinal) => `${ordinal + 1}@${pod}:${defaultPorts.raft}`).join(','));
    expect(resolveEnv(containerEnv(broker, sample)).values.coordinators).toEqual(pods.map((pod) => `${pod}:${defaultPorts.coordinator}`));
  });

  it('declares the default ports and probes the admin paths the admin server serves', async () => {
    expect(Object.fromEntries(ports(coordinator))).toEqual({ coordinator: defaultPorts.coordinator, raft: defaultPorts.raft, 'schema-registry': defaultPorts.schemaRegistry, admin: defaultPorts.admin });
    expect(Object.fromEntries(ports(broker))).toEqual({ kafka: defaultPorts.kafka, native: defaultPorts.native, admin: defaultPorts.admin });
    for (const set of [coordinator, broker]) {
      const c = container(set);
      const probes = ['startupProbe', 'livenessProbe', 'readinessProbe'].map((probe) => obj(obj(c[probe], probe).httpGet, `${nameOf(set)} ${probe}.httpGet`));
      for (const probe of probes) {
        expect(probe.port, nameOf(set)).toBe('admin');
        expect(await served(text(probe.path, 'path'))).toBe(true);
      }
      expect(probes.map((p) => p.path), nameOf(set)).toEqual(['/livez', '/livez', '/readyz']);
    }
    // The coordinator's /readyz waits up to 2 s for a read barrier: its probe must wait longer.
    expect(Number(obj(container(coordinator).readinessProbe, 'readinessProbe').timeoutSeconds)).toBeGreaterThan(2);
  });

  it('derives node ids from the pod ordinal when the start command runs in sh', async () => {
    // A stand-in `node` prints what the real one would be started with.
    await writeFile(path.join(scratch, 'node'), '#!/bin/sh\necho "$STREAMBUS_NODE_ID $*"\n');
    await chmod(path.join(scratch, 'node'), 0o755);
    const cases = [
      [coordinator, 'streambus-coordinator-0', '1 dist/cli/main.js coordinator'],
      [coordinator, 'streambus-coordinator-2', '3 dist/cli/main.js coordinator'],
      [broker, 'streambus-broker-0', '101 dist/cli/main.js broker'],
      [broker, 'streambus-broker-2', '103 dist/cli/main.js broker'],
    ] as const;
    for (const [set, pod, expected] of cases) {
      const c = container(set);
      expect(c.command).toEqual(['/bin/sh', '-c']);
      const script = expandK8s(text(list(c.args, 'args')[0], 'args'), {});
      const out = await sh(script, { PATH: `${scratch}:${process.env.PATH ?? ''}`, HOSTNAME: pod });
      expect(out).toBe(expected);
    }
  });
});
