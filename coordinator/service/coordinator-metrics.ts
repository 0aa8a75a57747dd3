/**
 * The Prometheus metrics of one coordinator node, named as the broker's are
 * (broker/observability/metrics.ts): a `streambus_` prefix, `_total` counters, `_seconds` units and
 * low-cardinality labels. `streambus coordinator` serves them on its HTTP admin port.
 *
 * Series                                             type       labels
 * streambus_raft_term                                gauge
 * streambus_raft_commit_index                        gauge
 * streambus_raft_applied_index                       gauge
 * streambus_raft_last_index                          gauge
 * streambus_raft_snapshot_index                      gauge
 * streambus_raft_is_leader                           gauge      (1 on the leader, else 0)
 * streambus_raft_leader_id                           gauge      (0: no leader known)
 * streambus_raft_member_lag_entries                  gauge      member (leader only)
 * streambus_raft_leader_changes_total                counter
 * streambus_raft_proposals_total                     counter
 * streambus_raft_proposal_latency_seconds            histogram
 * streambus_raft_synced_writes_total                 counter
 * streambus_raft_persist_latency_seconds             histogram
 * streambus_coordinator_brokers_registered           gauge
 * streambus_coordinator_brokers_fenced               gauge
 * streambus_coordinator_metadata_offset              gauge
 * streambus_transactions                             gauge      state (Empty, Ongoing, PrepareCommit, ...)
 * streambus_transactions_oldest_open_seconds         gauge      (0 with none open)
 * streambus_producer_ids_allocated                   gauge
 * streambus_schema_registry_subjects                 gauge      (subjects with a live version)
 * streambus_schema_registry_versions                 gauge      (live subject versions)
 * streambus_schema_registry_max_schema_id            gauge
 *
 * Cost. The write path pays counter increments and histogram observations only: the storage and
 * the proposer are wrapped (instrumentStorage, instrumentProposer) rather than the Raft host being
 * changed. Every gauge is read from the host's status() and the metadata state at scrape time
 * (prom-client's collect), so nothing is copied on a write and a scrape sees current values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Entry, RestoredState, Snapshot } from '../raft/index.js';
import type { RaftHostStatus } from '../raft/host/index.js';
import type { RaftStorage, RaftWrite } from '../raft/storage/raft-storage.js';
import type { RaftProposer } from '../metadata-log/raft-metadata-log.js';
import type { MetadataStateView } from '../metadata/state.js';
import { NO_NODE } from '../raft/index.js';
import { TxnState } from '../transactions/txn-types.js';

export interface CoordinatorMetricsOptions {
  /** Default: a new registry (never prom-client's global one, so nodes in one process stay apart). */
  readonly registry?: Registry;
  /** Default 'streambus_'. */
  readonly prefix?: string;
  /** Collect Node's runtime metrics (nodejs_*, process_*). Default false: a process turns them on once. */
  readonly defaultMetrics?: boolean;
  /** When set, streambus_build_info{version, nodejs} is exported (leave unset where the broker's metrics export it). */
  readonly version?: string;
  /** Wall clock for the age of open transactions. Default Date.now. */
  readonly nowMs?: () => number;
}

/** What the gauges read at scrape time; set by watch(). */
export interface CoordinatorMetricsSource {
  /** The Raft host's status (RaftHost.status()). */
  status(): RaftHostStatus;
  /** The metadata state this node has applied. */
  state(): MetadataStateView;
  /** RaftHost.onLeaderChange: calls back with (leaderId, term); returns an unsubscribe. */
  onLeaderChange(listener: (leaderId: number, term: number) => void): () => void;
}

/** Fsync latency, from a tenth of a millisecond (a fast SSD) to 5 s (a disk in trouble). */
const PERSIST_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Propose → applied: one fsync and one round trip to a quorum at best, a proposal timeout at worst. */
const PROPOSAL_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class CoordinatorMetrics {
  readonly registry: Registry;
  readonly #leaderChanges: Counter;
  readonly #proposals: Counter;
  readonly #proposalLatency: Histogram;
  readonly #syncedWrites: Counter;
  readonly #persistLatency: Histogram;
  #source: CoordinatorMetricsSource | undefined;

  constructor(options: CoordinatorMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    const prefix = options.prefix ?? 'streambus_';
    const registers = [registry];
    this.registry = registry;
    // Gauges call this at scrape time: watch() may set the source long after they are registered.
    const source = (): CoordinatorMetricsSource | undefined => this.#source;

    this.#leaderChanges = new Counter({ name: `${prefix}raft_leader_changes_total`, help: 'Times this node learned of a new leader (a leader id other than none, or a new term of one).', registers });
    this.#proposals = new Counter({ name: `${prefix}raft_proposals_total`, help: 'Metadata writes this node appended to its log as leader (one Raft entry each).', registers });
    this.#proposalLatency = new Histogram({
      name: `${prefix}raft_proposal_latency_seconds`,
      help: 'Time from a metadata write being proposed on the leader to its entry being applied there (committed writes only).',
      buckets: PROPOSAL_BUCKETS_SECONDS,
      registers,
    });
    this.#syncedWrites = new Counter({ name: `${prefix}raft_synced_writes_total`, help: 'Raft storage writes made durable with fsync (one per Ready carrying entries, a term or a vote).', registers });
    this.#persistLatency = new Histogram({
      name: `${prefix}raft_persist_latency_seconds`,
      help: 'Time one synced Raft storage write took, fsync included.',
      buckets: PERSIST_BUCKETS_SECONDS,
      registers,
    });

    const statusGauge = (name: string, help: string, pick: (status: RaftHostStatus) => number): void => {
      // A function (not an arrow) because prom-client calls collect with the gauge as `this`.
      new Gauge({
        name: `${prefix}${name}`,
        help,
        registers,
        collect(this: Gauge) {
          const watched = source();
          if (watched === undefined) this.reset();
          else this.set(pick(watched.status()));
        },
      });
    };
    statusGauge('raft_term', 'The Raft term this node is in.', (s) => s.term);
    statusGauge('raft_commit_index', 'Highest log index this node knows to be committed.', (s) => s.commit);
    statusGauge('raft_applied_index', 'Highest log index applied to the metadata state on this node.', (s) => s.applied);
    statusGauge('raft_last_index', 'Index of the last entry in this node\'s log.', (s) => s.lastIndex);
    statusGauge('raft_snapshot_index', 'Index covered by this node\'s latest snapshot (the log starts after it).', (s) => s.snapshotIndex);
    statusGauge('raft_is_leader', '1 while this node leads the coordinator group, else 0.', (s) => (s.role === 'leader' ? 1 : 0));
    statusGauge('raft_leader_id', 'The leader this node knows of; 0 when none.', (s) => s.leaderId);

    new Gauge<'member'>({
      name: `${prefix}raft_member_lag_entries`,
      help: 'Entries each voter\'s log is behind the leader\'s last index, as the leader sees it (exported by the leader only).',
      labelNames: ['member'],
      registers,
      collect(this: Gauge<'member'>) {
        this.reset();
        const watched = source();
        if (watched === undefined) return;
        for (const member of watched.status().members) {
          if (member.lag !== undefined) this.set({ member: String(member.id) }, member.lag);
        }
      },
    });

    const stateGauge = (name: string, help: string, pick: (state: MetadataStateView) => number): void => {
      new Gauge({
        name: `${prefix}${name}`,
        help,
        registers,
        collect(this: Gauge) {
          const watched = source();
          if (watched === undefined) this.reset();
          else this.set(pick(watched.state()));
        },
      });
    };
    stateGauge('coordinator_brokers_registered', 'Brokers registered in the metadata this node has applied.', (s) => s.brokers().length);
    stateGauge('coordinator_brokers_fenced', 'Registered brokers that are fenced (take no new replicas).', (s) => s.brokers().filter((b) => b.fenced).length);
    stateGauge('coordinator_metadata_offset', 'Offset of the last metadata record this node has applied.', (s) => s.lastAppliedOffset);

    // Transactions and schemas, from the applied metadata (every node, as the gauges above).
    new Gauge<'state'>({
      name: `${prefix}transactions`,
      help: 'Transactional ids by the state of their transaction (Ongoing and Prepare* are open; Empty and Complete* are idle).',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        this.reset();
        const watched = source();
        if (watched === undefined) return;
        const counts = new Map<string, number>();
        for (const state of Object.values(TxnState)) if (state !== TxnState.DEAD) counts.set(state, 0);
        for (const txn of watched.state().transactions.transactions()) counts.set(txn.state, (counts.get(txn.state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    const nowMs = options.nowMs ?? Date.now;
    stateGauge('transactions_oldest_open_seconds', 'Age of the oldest open transaction (from its first partition or group), in seconds; 0 with none open.', (s) => {
      let oldest = Number.POSITIVE_INFINITY;
      for (const txn of s.transactions.transactions()) if (txn.startTimeMs >= 0 && txn.startTimeMs < oldest) oldest = txn.startTimeMs;
      return oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, nowMs() - oldest) / 1000;
    });
    stateGauge('producer_ids_allocated', 'Producer ids handed out to partition leaders and producers so far (the next free id).', (s) => s.transactions.nextProducerId);
    stateGauge('schema_registry_subjects', 'Subjects of the schema registry with at least one live (not soft-deleted) version.', (s) => s.schemas.subjects().filter((subject) => subject.versions.some((v) => !v.deleted)).length);
    stateGauge('schema_registry_versions', 'Live (not soft-deleted) subject versions in the schema registry.', (s) =>
      s.schemas.subjects().reduce((sum, subject) => sum + subject.versions.filter((v) => !v.deleted).length, 0),
    );
    stateGauge('schema_registry_max_schema_id', 'The highest schema id the registry has given.', (s) => s.schemas.maxId);

    if (options.version !== undefined) {
      new Gauge<'version' | 'nodejs'>({
        name: `${prefix}build_info`,
        help: 'Always 1; labels say which StreamBus and Node.js versions run.',
        labelNames: ['version', 'nodejs'],
        registers,
      }).set({ version: options.version, nodejs: process.version }, 1);
    }
    if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  }

  /**
   * Reads the gauges from `source` from now on and counts its leader changes. Returns a function
   * that stops both (the gauges then export nothing). A later call replaces the source.
   */
  watch(source: CoordinatorMetricsSource): () => void {
    this.#source = source;
    let lastLeader = NO_NODE;
    let lastTerm = 0;
    const unsubscribe = source.onLeaderChange((leaderId, term) => {
      if (leaderId !== NO_NODE && (leaderId !== lastLeader || term !== lastTerm)) this.#leaderChanges.inc();
      lastLeader = leaderId;
      lastTerm = term;
    });
    return () => {
      unsubscribe();
      if (this.#source === source) this.#source = undefined;
    };
  }

  /** `storage` with its synced writes counted and timed; everything else passes straight through. */
  instrumentStorage(storage: RaftStorage): RaftStorage {
    return new TimedRaftStorage(storage, this.#syncedWrites, this.#persistLatency);
  }

  /**
   * `proposer` with each accepted proposal counted, and timed until it is applied here. A refusal
   * (thrown) is not counted; a proposal that does not commit is counted but not timed.
   */
  instrumentProposer(proposer: RaftProposer): RaftProposer {
    const proposals = this.#proposals;
    const latency = this.#proposalLatency;
    return {
      proposeNow(data, options) {
        const appended = proposer.proposeNow(data, options);
        proposals.inc();
        const end = latency.startTimer();
        // A second reaction to the same promise: the caller's handling is untouched, and a
        // rejection is the caller's to report, so it is swallowed here.
        appended.applied.then(
          () => void end(),
          () => undefined,
        );
        return appended;
      },
    };
  }

  /** The Prometheus text exposition of every metric in the registry. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A RaftStorage that counts and times its synced persists. */
class TimedRaftStorage implements RaftStorage {
  readonly #inner: RaftStorage;
  readonly #syncedWrites: Counter;
  readonly #latency: Histogram;

  constructor(inner: RaftStorage, syncedWrites: Counter, latency: Histogram) {
    this.#inner = inner;
    this.#syncedWrites = syncedWrites;
    this.#latency = latency;
  }

  load(): Promise<RestoredState | undefined> {
    return this.#inner.load();
  }

  persist(write: RaftWrite): Promise<void> {
    // Unsynced writes (a commit index moving) are not awaited by the host: nothing to time.
    if (write.sync === false) return this.#inner.persist(write);
    this.#syncedWrites.inc();
    const end = this.#latency.startTimer();
    return this.#inner.persist(write).then(() => void end());
  }

  compact(snapshot: Snapshot): Promise<void> {
    return this.#inner.compact(snapshot);
  }

  entries(from: number, to: number): Promise<Entry[]> {
    return this.#inner.entries(from, to);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
