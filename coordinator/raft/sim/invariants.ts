/**
 * Raft's safety properties (Figure 3 of the paper, plus what the reference's bug list adds),
 * checked by an observer that can see every node's memory, every persisted write and every
 * message. The simulator calls it after every event; the first breach throws SafetyViolation.
 *
 * - Election safety: at most one leader per term (seen in node roles, and in appends on the wire:
 *   only that term's leader may send them).
 * - No double vote: a node grants at most one candidate per term, even across crashes.
 * - Log matching: two logs holding an entry with the same (index, term) hold the same entry and
 *   agree on the term of the entry before it (hence, by induction, on the whole prefix).
 * - Committed entries never change: every entry at or below a node's commit index is the entry
 *   first seen committed there.
 * - Leader completeness: a leader of a term later than the one in which an entry was seen
 *   committed holds that entry.
 * - State machine safety: no two applications at one index differ; each node applies in order.
 * - Monotonicity: term and commit never go down in a node's memory, nor in what it persisted
 *   (so not across restarts either).
 * - At most one uncommitted membership change in a leader's log.
 *
 * Ghost checks (the observer sees every disk, so it can check Raft's justifications directly
 * instead of waiting for their consequences, which may need a rare schedule to show):
 * - Durable vote: a granted vote is on the voter's disk (or superseded by a later term) when the
 *   reply leaves. Durable ack: an append ack never covers entries the follower has not persisted.
 * - Elected by a quorum: a new leader of term T holds grants sent in term T by a quorum of its voters.
 * - Justified commit: when a leader's commit index reaches c, an entry of its own term at or after
 *   c is persisted on a quorum of its voters (Figure 8: counting replicas of older terms is not
 *   enough).
 */
import type { RaftNode } from '../raft-node.js';
import type { Entry, HardState, Message } from '../types.js';

export class SafetyViolation extends Error {
  readonly invariant: string;

  constructor(invariant: string, message: string) {
    super(`${invariant}: ${message}`);
    this.name = 'SafetyViolation';
    this.invariant = invariant;
  }
}

const decoder = new TextDecoder();
const contentCache = new WeakMap<Entry, string>();

/** A string that is equal for equal entries (kind, data or voters). */
export function entryContent(e: Entry): string {
  let text = contentCache.get(e);
  if (text === undefined) {
    text = e.kind === 'config' ? `config:${e.voters.join(',')}` : e.data.byteLength === 0 ? 'no-op' : decoder.decode(e.data);
    contentCache.set(e, text);
  }
  return text;
}

interface SeenEntry {
  readonly content: string;
  readonly prevTerm: number;
}

const TERM_LIMIT = 2 ** 20;

function slot(index: number, term: number): number {
  if (term >= TERM_LIMIT) throw new SafetyViolation('simulator', `term ${term} exceeds what the checker indexes`);
  return index * TERM_LIMIT + term;
}

/** Read access to what each node has persisted. */
export interface PersistedLogs {
  /** The term of the persisted entry at `index` on node `id` (the snapshot's term at its index); undefined if none. */
  termAt(id: number, index: number): number | undefined;
  lastIndex(id: number): number;
  /** Entries at or below this index were compacted into the node's snapshot. */
  snapshotIndex(id: number): number;
  /** The term of the entry at `index` in node `id`'s memory, if it is up, still in term `term`, and holds one. */
  memoryTermAt(id: number, term: number, index: number): number | undefined;
  hardState(id: number): HardState;
}

function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

export class InvariantChecker {
  readonly #disks: PersistedLogs;
  /** Per leader: the term it leads and the commit index already justified. */
  readonly #justified = new Map<number, { term: number; commit: number }>();

  readonly #ghost: boolean;

  /** `ghost: false` keeps only the classic invariants (to measure what they catch on their own). */
  constructor(disks: PersistedLogs, options: { readonly ghost?: boolean } = {}) {
    this.#disks = disks;
    this.#ghost = options.ghost ?? true;
  }

  readonly #leaderOfTerm = new Map<number, number>();
  readonly #voteOf = new Map<number, number>(); // slot(voter, term) → candidate
  readonly #seen = new Map<number, SeenEntry>();
  /** index → term of the committed entry there, and the observer's term when first seen committed. */
  readonly #committedTerm: number[] = [];
  readonly #committedSeenInTerm: number[] = [];
  #maxCommitted = 0;
  readonly #applied: string[] = [];
  readonly #lastTerm = new Map<number, number>();
  readonly #lastCommit = new Map<number, number>();
  readonly #persisted = new Map<number, HardState>();
  /** Per node: the entry object last checked at each absolute index, and the commit index last checked. */
  readonly #shadow = new Map<number, (Entry | undefined)[]>();
  readonly #checkedCommit = new Map<number, number>();
  readonly #leaderChecked = new Map<number, { term: number; through: number }>();

  get maxCommitted(): number {
    return this.#maxCommitted;
  }

  /** After anything that may have changed node `id`'s memory. */
  checkNode(id: number, node: RaftNode): void {
    const term = node.term;
    const commit = node.commitIndex;
    if (term < (this.#lastTerm.get(id) ?? 0)) throw new SafetyViolation('term-monotonic', `node ${id} went from term ${this.#lastTerm.get(id)} to ${term}`);
    if (commit < (this.#lastCommit.get(id) ?? 0)) {
      throw new SafetyViolation('commit-monotonic', `node ${id} commit went from ${this.#lastCommit.get(id)} to ${commit}`);
    }
    this.#lastTerm.set(id, term);
    this.#lastCommit.set(id, commit);

    if (node.role === 'leader') {
      const leader = this.#leaderOfTerm.get(term);
      if (leader === undefined) {
        this.#leaderOfTerm.set(term, id);
        if (this.#ghost) this.#checkElected(id, node);
      } else if (leader !== id) {
        throw new SafetyViolation('election-safety', `nodes ${leader} and ${id} are both leaders of term ${term}`);
      }
    }

    const log = node.inspectLog();
    const entries = log.entries;
    const base = log.snapshotIndex;
    const lastIndex = base + entries.length;
    if (commit > lastIndex) throw new SafetyViolation('commit-in-log', `node ${id} commit ${commit} is past its last index ${lastIndex}`);
    // Logs only change at the tail (truncate, then append), and entries are immutable objects, so
    // the entries still identical to what we checked last time need no second look: walk back from
    // the end to the first one we have already seen at its position.
    let shadow = this.#shadow.get(id);
    if (shadow === undefined) {
      shadow = [];
      this.#shadow.set(id, shadow);
    }
    let unchanged = entries.length - 1;
    while (unchanged >= 0 && shadow[base + 1 + unchanged] !== entries[unchanged]) unchanged--;
    let prevTerm = unchanged >= 0 ? entries[unchanged]!.term : log.snapshotTerm;
    for (let i = unchanged + 1; i < entries.length; i++) {
      const e = entries[i]!;
      const key = slot(e.index, e.term);
      const content = entryContent(e);
      const seen = this.#seen.get(key);
      if (seen === undefined) {
        this.#seen.set(key, { content, prevTerm });
      } else if (seen.content !== content || seen.prevTerm !== prevTerm) {
        throw new SafetyViolation(
          'log-matching',
          `node ${id} holds (${e.index}, term ${e.term}) = ${content} after term ${prevTerm}; elsewhere it is ${seen.content} after term ${seen.prevTerm}`,
        );
      }
      if (e.index <= commit) this.#checkCommitted(id, e, term);
      shadow[e.index] = e;
      prevTerm = e.term;
    }
    if (shadow.length > lastIndex + 1) shadow.length = lastIndex + 1;
    // Entries that did not change but were committed since the last look.
    const checkedCommit = this.#checkedCommit.get(id) ?? 0;
    for (let index = Math.max(checkedCommit, base) + 1; index <= Math.min(commit, base + unchanged + 1); index++) {
      this.#checkCommitted(id, entries[index - base - 1]!, term);
    }
    this.#checkedCommit.set(id, commit);
    if (node.role === 'leader') this.#checkLeader(id, node, base, entries, commit);
  }

  #checkCommitted(id: number, e: Entry, observerTerm: number): void {
    const committed = this.#committedTerm[e.index];
    if (committed === undefined) {
      this.#committedTerm[e.index] = e.term;
      this.#committedSeenInTerm[e.index] = observerTerm;
      if (e.index > this.#maxCommitted) this.#maxCommitted = e.index;
    } else if (committed !== e.term) {
      throw new SafetyViolation('committed-entry-changed', `node ${id} has term ${e.term} at committed index ${e.index}; term ${committed} was committed there`);
    }
  }

  #checkElected(id: number, node: RaftNode): void {
    const term = node.term;
    const voters = node.status().voters;
    let votes = 0;
    for (const voter of voters) {
      if (voter === id || this.#voteOf.get(slot(voter, term)) === id) votes++;
    }
    if (votes < quorum(voters.length)) {
      throw new SafetyViolation('elected-by-quorum', `node ${id} leads term ${term} with ${votes} votes of that term from voters [${voters.join(',')}]`);
    }
    this.#justified.set(id, { term, commit: node.commitIndex });
  }

  #checkJustifiedCommit(id: number, node: RaftNode, snapshotIndex: number, entries: readonly Entry[], commit: number): void {
    const term = node.term;
    const justified = this.#justified.get(id);
    if (justified === undefined || justified.term !== term || commit <= justified.commit) return;
    justified.commit = commit;
    let anchor: Entry | undefined;
    for (let i = Math.max(commit - snapshotIndex - 1, 0); i < entries.length; i++) {
      if (entries[i]!.term === term) {
        anchor = entries[i];
        break;
      }
    }
    if (anchor === undefined) {
      throw new SafetyViolation('justified-commit', `leader ${id} of term ${term} committed ${commit} and holds no entry of its term at or after it`);
    }
    const voters = node.status().voters;
    let holders = 0;
    for (const voter of voters) {
      // The leader's own copy counts from memory: it persists before sending, so any follower's ack
      // of the anchor implies the leader's disk has it; a single voter commits on its own.
      if (voter === id) {
        holders++;
        continue;
      }
      // Compacted away means applied there, hence committed: compare with the committed term.
      const stored = anchor.index <= this.#disks.snapshotIndex(voter) ? this.#committedTerm[anchor.index] : this.#disks.termAt(voter, anchor.index);
      if (stored === term) holders++;
    }
    if (holders < quorum(voters.length)) {
      throw new SafetyViolation(
        'justified-commit',
        `leader ${id} of term ${term} committed ${commit}, but entry ${anchor.index} of its term is persisted on ${holders} of voters [${voters.join(',')}]`,
      );
    }
  }

  #checkLeader(id: number, node: RaftNode, snapshotIndex: number, entries: readonly Entry[], commit: number): void {
    const term = node.term;
    if (this.#ghost) this.#checkJustifiedCommit(id, node, snapshotIndex, entries, commit);
    // A leader's log only grows, so each (leader, term) needs each committed index checked once.
    const checked = this.#leaderChecked.get(id);
    const from = checked !== undefined && checked.term === term ? checked.through + 1 : snapshotIndex + 1;
    this.#leaderChecked.set(id, { term, through: Math.max(this.#maxCommitted, from - 1) });
    for (let i = Math.max(from, snapshotIndex + 1); i <= this.#maxCommitted; i++) {
      const committed = this.#committedTerm[i];
      if (committed === undefined || this.#committedSeenInTerm[i]! >= term) continue;
      const e = entries[i - snapshotIndex - 1];
      if (e?.term !== committed) {
        throw new SafetyViolation('leader-completeness', `leader ${id} of term ${term} lacks committed entry ${i} (term ${committed}); has ${e === undefined ? 'nothing' : `term ${e.term}`}`);
      }
    }
    let pendingConfigs = 0;
    for (let i = entries.length - 1; i >= 0 && entries[i]!.index > commit; i--) {
      if (entries[i]!.kind === 'config') pendingConfigs++;
    }
    if (pendingConfigs > 1) throw new SafetyViolation('single-config-change', `leader ${id} has ${pendingConfigs} uncommitted config entries`);
  }

  /** A message leaving node `m.from` (after its Ready was persisted). */
  checkSent(m: Message): void {
    if (m.type === 'vote-response' && !m.reject) {
      const hs = this.#disks.hardState(m.from);
      if (this.#ghost && (hs.term < m.term || (hs.term === m.term && hs.vote !== m.to))) {
        throw new SafetyViolation('durable-vote', `node ${m.from} grants ${m.to} in term ${m.term} but its disk holds term ${hs.term}, vote ${hs.vote}`);
      }
      const key = slot(m.from, m.term);
      const previous = this.#voteOf.get(key);
      if (previous === undefined) this.#voteOf.set(key, m.to);
      else if (previous !== m.to) throw new SafetyViolation('double-vote', `node ${m.from} voted for ${previous} and for ${m.to} in term ${m.term}`);
    } else if (m.type === 'append-response' && !m.reject && this.#ghost) {
      const last = this.#disks.lastIndex(m.from);
      if (m.index > last) throw new SafetyViolation('durable-ack', `node ${m.from} acks up to ${m.index} but has persisted only up to ${last}`);
      // The acked entry must be the leader's entry, not merely an entry at that index.
      const leaderTerm = this.#disks.memoryTermAt(m.to, m.term, m.index);
      const stored = this.#disks.termAt(m.from, m.index);
      if (m.index > this.#disks.snapshotIndex(m.from) && leaderTerm !== undefined && stored !== leaderTerm) {
        throw new SafetyViolation('durable-ack', `node ${m.from} acks ${m.index} to leader ${m.to} of term ${m.term}, whose entry there has term ${leaderTerm}; its disk has term ${String(stored)}`);
      }
    } else if (m.type === 'append' || m.type === 'snapshot' || m.type === 'timeout-now') {
      const leader = this.#leaderOfTerm.get(m.term);
      if (leader !== undefined && leader !== m.from) {
        throw new SafetyViolation('election-safety', `node ${m.from} sends ${m.type} in term ${m.term}, whose leader is ${leader}`);
      }
    }
  }

  /** A Ready's hard state reached node `id`'s storage. */
  checkPersisted(id: number, hs: HardState): void {
    const previous = this.#persisted.get(id);
    if (previous !== undefined) {
      if (hs.term < previous.term) throw new SafetyViolation('term-monotonic', `node ${id} persisted term ${hs.term} after ${previous.term}`);
      if (hs.commit < previous.commit) throw new SafetyViolation('commit-monotonic', `node ${id} persisted commit ${hs.commit} after ${previous.commit}`);
    }
    this.#persisted.set(id, hs);
  }

  /** Node `id` restarted from storage: its memory starts again from what it persisted. */
  restarted(id: number, node: RaftNode): void {
    this.#lastTerm.set(id, node.term);
    this.#lastCommit.set(id, node.commitIndex);
    this.#checkedCommit.set(id, node.commitIndex);
    const persisted = this.#persisted.get(id);
    if (persisted !== undefined && node.commitIndex < persisted.commit) {
      throw new SafetyViolation('commit-monotonic', `node ${id} restarted with commit ${node.commitIndex} below the persisted ${persisted.commit}`);
    }
  }

  /** Node `id` applies `e`, having applied up to `appliedIndex` before. */
  checkApply(id: number, e: Entry, appliedIndex: number): void {
    if (e.index !== appliedIndex + 1) throw new SafetyViolation('apply-order', `node ${id} applies ${e.index} after ${appliedIndex}`);
    const content = entryContent(e);
    const previous = this.#applied[e.index];
    if (previous === undefined) this.#applied[e.index] = content;
    else if (previous !== content) {
      throw new SafetyViolation('state-machine-safety', `node ${id} applies ${content} at ${e.index}; another node applied ${previous} there`);
    }
  }
}
