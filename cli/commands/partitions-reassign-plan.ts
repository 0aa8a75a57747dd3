/**
 * The plan file of `streambus partitions reassign` and what the command shows about it.
 *
 * The format is kafka-reassign-partitions's, so plans move between the two tools:
 *
 *   {"version": 1, "partitions": [{"topic": "orders", "partition": 0, "replicas": [2, 3, 4]}]}
 *
 * `version` may be left out (1 is the only one); `log_dirs`, which Kafka writes, is accepted and
 * ignored when it says "any" for every replica (StreamBus has one log directory per broker). The
 * first replica is the preferred leader.
 *
 * The rest reads a plan against the cluster's metadata: each partition's current replicas next to
 * the proposed ones (the preview), and how far each move has got (--verify).
 */
import { readFile } from 'node:fs/promises';
import type { MetadataStateView, PartitionAssignment } from '../../coordinator/index.js';
import { UsageError } from '../command.js';

export interface PlanEntry {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
}

/** A plan as written to a file (and printed by --generate). */
export interface PlanDocument {
  readonly version: 1;
  readonly partitions: readonly PlanEntry[];
}

const MAX_BROKER_ID = 2 ** 31 - 1;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBrokerId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_BROKER_ID;
}

/**
 * Parses a plan's text. Throws UsageError naming `source` and the bad field: not JSON, no
 * partitions, a field missing or of the wrong type, unknown fields, a partition listed twice, a
 * replica list that is empty or names a broker twice, or log_dirs other than "any".
 */
export function parsePlan(text: string, source: string, command: string): PlanEntry[] {
  const bad = (message: string): never => {
    throw new UsageError(`${source}: ${message}`, command);
  };
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    bad(`not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isRecord(document)) return bad('must be an object {"version": 1, "partitions": [...]}');
  for (const key of Object.keys(document)) if (key !== 'version' && key !== 'partitions') bad(`unknown field "${key}" (known: version, partitions)`);
  if (document.version !== undefined && document.version !== 1) bad(`version must be 1, got ${JSON.stringify(document.version)}`);
  const partitions = document.partitions;
  if (!Array.isArray(partitions) || partitions.length === 0) return bad('"partitions" must be a non-empty array');
  const seen = new Set<string>();
  return partitions.map((item: unknown, i): PlanEntry => {
    const at = `partitions[${i}]`;
    if (!isRecord(item)) return bad(`${at} must be an object {"topic", "partition", "replicas"}`);
    for (const key of Object.keys(item)) if (!['topic', 'partition', 'replicas', 'log_dirs'].includes(key)) bad(`${at} has unknown field "${key}"`);
    const { topic, partition, replicas } = item;
    if (typeof topic !== 'string' || topic === '') bad(`${at}.topic must be a topic name`);
    if (!isBrokerId(partition)) bad(`${at}.partition must be an integer ≥ 0, got ${JSON.stringify(partition)}`);
    if (!Array.isArray(replicas) || replicas.length === 0) return bad(`${at}.replicas must be a non-empty array of broker ids`);
    const ids: number[] = replicas.map((id: unknown) => (isBrokerId(id) ? id : bad(`${at}.replicas holds ${JSON.stringify(id)}, which is not a broker id`)));
    const twice = ids.find((id, k) => ids.indexOf(id) !== k);
    if (twice !== undefined) bad(`${at}.replicas names broker ${twice} twice`);
    const dirs = item.log_dirs;
    if (dirs !== undefined && (!Array.isArray(dirs) || dirs.length !== ids.length || !dirs.every((d) => d === 'any'))) {
      bad(`${at}.log_dirs must be "any" for every replica (a broker has one log directory)`);
    }
    const name = topic as string;
    const key = `${name}\u0000${String(partition)}`;
    if (seen.has(key)) bad(`${name}-${String(partition)} is listed twice`);
    seen.add(key);
    return { topic: name, partition: partition as number, replicas: ids };
  });
}

/** Reads and parses a plan file; UsageError when it cannot be read or is malformed. */
export async function readPlan(path: string, command: string): Promise<PlanEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --plan ${path}: ${error instanceof Error ? error.message : String(error)}`, command);
  }
  return parsePlan(text, path, command);
}

/** The plan document for a list of entries. */
export function planDocument(partitions: readonly PlanEntry[]): PlanDocument {
  return { version: 1, partitions: partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: [...p.replicas] })) };
}

/** One partition of the preview: where it is and where the plan sends it. */
export interface PlanRow {
  readonly topic: string;
  readonly partition: number;
  /** Its replicas (where a reassignment in progress goes, while one runs); null: no such partition. */
  readonly current: readonly number[] | null;
  readonly proposed: readonly number[];
  /** Whether executing the plan changes this partition. */
  readonly changes: boolean;
}

function assignmentOf(state: MetadataStateView, topic: string, partition: number): PartitionAssignment | undefined {
  return state.topic(topic)?.partitions[partition];
}

/** The replicas a partition is going to: its target while it is being reassigned, else its replicas. */
function heading(p: PartitionAssignment): readonly number[] {
  const removing = p.removingReplicas ?? [];
  return p.replicas.filter((id) => !removing.includes(id));
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Current and proposed replicas of every partition of the plan. */
export function previewRows(state: MetadataStateView, plan: readonly PlanEntry[]): PlanRow[] {
  return plan.map((entry) => {
    const p = assignmentOf(state, entry.topic, entry.partition);
    const current = p === undefined ? null : heading(p);
    return { topic: entry.topic, partition: entry.partition, current, proposed: entry.replicas, changes: current === null || !same(current, entry.replicas) };
  });
}

export const VerifyStatus = {
  /** The replicas are the plan's and no reassignment runs. */
  DONE: 'done',
  /** A reassignment runs toward the plan's replicas: the adding replicas are still catching up. */
  IN_PROGRESS: 'in-progress',
  /** Not the plan's replicas and nothing moving toward them (never executed, cancelled, or moved elsewhere since). */
  NOT_STARTED: 'not-started',
  /** The partition does not exist. */
  UNKNOWN: 'unknown-partition',
} as const;
export type VerifyStatus = (typeof VerifyStatus)[keyof typeof VerifyStatus];

export interface VerifyRow {
  readonly topic: string;
  readonly partition: number;
  readonly status: VerifyStatus;
  /** The replicas now, and while in progress the ones being added and removed. */
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
  readonly proposed: readonly number[];
}

/** How far each partition of the plan has got. */
export function verifyRows(state: MetadataStateView, plan: readonly PlanEntry[]): VerifyRow[] {
  return plan.map((entry) => {
    const p = assignmentOf(state, entry.topic, entry.partition);
    const base = { topic: entry.topic, partition: entry.partition, proposed: entry.replicas };
    if (p === undefined) return { ...base, status: VerifyStatus.UNKNOWN, replicas: [], addingReplicas: [], removingReplicas: [] };
    const adding = p.addingReplicas ?? [];
    const removing = p.removingReplicas ?? [];
    const moving = adding.length > 0 || removing.length > 0;
    const status = same(heading(p), entry.replicas) ? (moving ? VerifyStatus.IN_PROGRESS : VerifyStatus.DONE) : VerifyStatus.NOT_STARTED;
    return { ...base, status, replicas: p.replicas, addingReplicas: adding, removingReplicas: removing };
  });
}

/** A list of ids for a table cell: "1,2,3", or "-" for none. */
export function ids(list: readonly number[] | null): string {
  return list === null || list.length === 0 ? '-' : list.join(',');
}

/** Parses "1,2,3" (broker ids) or "a,b" (names); UsageError for an empty item. */
export function commaList(text: string, option: string, command: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`${option} expects a comma-separated list, got '${text}'`, command);
  return items;
}

/** Parses "1,2,3" as broker ids; UsageError for anything else. */
export function brokerIdList(text: string, option: string, command: string): number[] {
  return commaList(text, option, command).map((item) => {
    const id = /^\d+$/.test(item) ? Number(item) : Number.NaN;
    if (!isBrokerId(id)) throw new UsageError(`${option} expects broker ids, got '${item}'`, command);
    return id;
  });
}
