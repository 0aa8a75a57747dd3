/**
 * The coordinator's group membership: its status (members, addresses, replication progress),
 * voter changes, leadership transfer, and the Raft transport's peers. The peers are the founding
 * voters from the configuration plus every current voter the log has an address for
 * (metadata/coordinator-endpoints.ts), worked out again whenever the Coordinator asks.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { coordinatorRecord, raftPeers, samePeers } from './metadata/coordinator-endpoints.js';
import type { Logger } from './logger.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import { NO_NODE } from './raft/index.js';
import type { RaftHost } from './raft/host/index.js';
import type { CoordinatorMemberStatus, CoordinatorNodeStatus, Endpoint, MembershipChangeRequest } from './service/coordinator-api.js';
import type { AdminOptions } from './coordinator-options.js';
import { type Submit, write } from './coordinator-steps.js';

export interface CoordinatorMembershipOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly host: RaftHost;
  readonly log: RaftMetadataLog;
  readonly raft: Endpoint;
  readonly api: Endpoint | undefined;
  readonly configuredVoters: ReadonlyMap<number, Endpoint>;
  readonly logger: Logger;
  readonly submit: Submit;
  /** Why the coordinator takes no more calls (failed or closing), or undefined. */
  readonly refusal: () => StreamBusError | undefined;
  /** Whether close() has begun. */
  readonly closing: () => boolean;
}

export class CoordinatorMembership {
  readonly #nodeId: number;
  readonly #clusterId: string;
  readonly #host: RaftHost;
  readonly #log: RaftMetadataLog;
  /** This node's Raft address. */
  readonly raft: Endpoint;
  /** This node's API address, once known. */
  api: Endpoint | undefined;
  readonly #configuredVoters: ReadonlyMap<number, Endpoint>;
  readonly #logger: Logger;
  readonly #submit: Submit;
  readonly #refusal: () => StreamBusError | undefined;
  readonly #closing: () => boolean;
  #peers: ReadonlyMap<number, Endpoint> = new Map();
  #peersDue = false;

  constructor(options: CoordinatorMembershipOptions) {
    this.#nodeId = options.nodeId;
    this.#clusterId = options.clusterId;
    this.#host = options.host;
    this.#log = options.log;
    this.raft = options.raft;
    this.api = options.api;
    this.#configuredVoters = options.configuredVoters;
    this.#logger = options.logger;
    this.#submit = options.submit;
    this.#refusal = options.refusal;
    this.#closing = options.closing;
  }

  status(): CoordinatorNodeStatus {
    const raft = this.#host.status();
    const state = this.#log.state;
    const leading = raft.role === 'leader';
    const ids = new Set<number>([...raft.voters, this.#nodeId]);
    const members: CoordinatorMemberStatus[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      const raftAddress = this.#raftAddressOf(id);
      if (raftAddress === undefined) continue;
      const member = raft.members.find((m) => m.id === id);
      const follower = raft.followers.find((f) => f.id === id);
      members.push({
        nodeId: id,
        raft: raftAddress,
        api: this.#apiAddressOf(id),
        voter: raft.voters.includes(id),
        matchIndex: leading ? member?.match : undefined,
        lag: leading ? member?.lag : undefined,
        active: leading ? id === this.#nodeId || follower?.recentActive === true : undefined,
      });
    }
    return {
      clusterId: this.#clusterId,
      nodeId: this.#nodeId,
      role: raft.role,
      leaderId: raft.leaderId,
      leaderApi: raft.leaderId === NO_NODE ? undefined : this.#apiAddressOf(raft.leaderId),
      term: raft.term,
      commitIndex: raft.commit,
      appliedIndex: raft.applied,
      lastIndex: raft.lastIndex,
      snapshotIndex: raft.snapshotIndex,
      metadataOffset: state.lastAppliedOffset,
      members,
    };
  }

  async changeMembership(change: MembershipChangeRequest, options: AdminOptions): Promise<{ readonly voters: readonly number[] }> {
    const nodeId = checkNodeId(change.nodeId);
    if (change.op === 'add') {
      await this.#submit(options.signal, (state) => {
        if (this.#host.status().voters.includes(nodeId)) {
          throw new StreamBusError(ErrorCode.INVALID_REQUEST, `coordinator node ${nodeId} is already a voter`);
        }
        const api = change.api ?? state.coordinator(nodeId)?.api ?? null;
        const command = coordinatorRecord(state, nodeId, change.raft, api);
        return write(command === null ? [] : [command], () => undefined);
      });
    } else if (change.op !== 'remove') {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `membership change op must be "add" or "remove", got ${JSON.stringify((change as { op: unknown }).op)}`);
    }
    const type = change.op === 'add' ? 'add-voter' : 'remove-voter';
    const voters = await this.#submit(options.signal, () => ({
      kind: 'membership',
      change: { type, nodeId },
      answer: () => this.#host.status().voters,
    }));
    this.#logger.info({ op: change.op, nodeId, voters }, 'changed coordinator membership');
    return { voters };
  }

  async transferLeadership(toNodeId: number, options: AdminOptions): Promise<{ readonly leaderId: number; readonly term: number }> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const to = checkNodeId(toNodeId);
    await this.#host.transferLeadership(to, options.signal === undefined ? {} : { signal: options.signal });
    return { leaderId: to, term: this.#host.status().term };
  }

  /** Works the peers out again in a microtask, once however many times it is asked meanwhile. */
  refreshPeersSoon(): void {
    if (this.#peersDue) return;
    this.#peersDue = true;
    queueMicrotask(() => {
      this.#peersDue = false;
      if (!this.#closing()) this.refreshPeers();
    });
  }

  /** Works the peers out now and hands them to the transport when they changed. */
  refreshPeers(): void {
    const peers = raftPeers(this.#nodeId, this.#configuredVoters, this.#host.status().voters, this.#log.state);
    if (samePeers(peers, this.#peers)) return;
    this.#peers = peers;
    this.#host.setPeers(peers);
    this.#logger.info({ nodeId: this.#nodeId, peers: [...peers].map(([id, e]) => `${id}@${e.host}:${e.port}`) }, 'raft peers set');
  }

  #raftAddressOf(id: number): Endpoint | undefined {
    if (id === this.#nodeId) return this.raft;
    return this.#log.state.coordinator(id)?.raft ?? this.#configuredVoters.get(id);
  }

  #apiAddressOf(id: number): Endpoint | undefined {
    if (id === this.#nodeId && this.api !== undefined) return this.api;
    return this.#log.state.coordinator(id)?.api ?? undefined;
  }
}

function checkNodeId(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a coordinator node id must be a whole number in 1..2147483647, got ${JSON.stringify(value)}`);
  }
  return value;
}
