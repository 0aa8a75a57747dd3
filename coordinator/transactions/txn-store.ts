/**
 * The applied state of producer ids and transactions: the next producer id not yet given to any
 * leader, and each transactional id's last stored image. Part of MetadataState
 * (../metadata/state.ts), which hands it the transaction commands in log order and carries it in
 * snapshots; the coordinator leader resumes its transactions from it when it takes over.
 *
 * Images are frozen and replaced on change, never mutated. clone() shares the map and each side
 * copies it on its first change (copy on write), as the group store does: the write pipeline
 * clones the metadata state at the start of every burst of writes.
 *
 * Pure: no node:* imports, no clock; times come in the commands.
 */
import { deepFreeze, type ShapeReader } from '../metadata/shape.js';
import { type TxnCommand, TxnCommandType, readTransactionImage } from './txn-commands.js';
import type { TransactionImage } from './txn-types.js';

/** The read side: what the coordinator and the protocol handler look at. */
export interface TransactionStoreView {
  /** The first producer id no leader has been given yet. */
  readonly nextProducerId: number;
  transaction(transactionalId: string): TransactionImage | undefined;
  /** Sorted by transactional id. */
  transactions(): readonly TransactionImage[];
}

/** The store in a snapshot: absent when nothing was ever allocated or stored. */
export interface TransactionSnapshot {
  readonly nextProducerId: number;
  /** Sorted by transactional id. */
  readonly transactions: readonly TransactionImage[];
}

const byId = (a: TransactionImage, b: TransactionImage): number => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0);

export class TransactionStore implements TransactionStoreView {
  #nextProducerId: number;
  #transactions: Map<string, TransactionImage>;
  #shared = false;
  #sorted: readonly TransactionImage[] | undefined;

  private constructor(nextProducerId: number, transactions: Map<string, TransactionImage>) {
    this.#nextProducerId = nextProducerId;
    this.#transactions = transactions;
  }

  static empty(): TransactionStore {
    return new TransactionStore(0, new Map());
  }

  /** An independent copy; both share the map until either changes. */
  clone(): TransactionStore {
    const copy = new TransactionStore(this.#nextProducerId, this.#transactions);
    copy.#shared = true;
    copy.#sorted = this.#sorted;
    this.#shared = true;
    return copy;
  }

  get nextProducerId(): number {
    return this.#nextProducerId;
  }

  /** Whether the store holds nothing a snapshot needs. */
  get isEmpty(): boolean {
    return this.#nextProducerId === 0 && this.#transactions.size === 0;
  }

  transaction(transactionalId: string): TransactionImage | undefined {
    return this.#transactions.get(transactionalId);
  }

  transactions(): readonly TransactionImage[] {
    this.#sorted ??= Object.freeze([...this.#transactions.values()].sort(byId));
    return this.#sorted;
  }

  snapshot(): TransactionSnapshot {
    return { nextProducerId: this.#nextProducerId, transactions: this.transactions() };
  }

  /**
   * Applies one committed transaction command. Total, so every replica skips alike what a
   * concurrent entry made moot: a block starting below the next id only moves the next id up (the
   * leader decides blocks in log order against its speculative state, so this does not happen), and
   * a delete for a producer id or epoch that is no longer current is ignored.
   */
  apply(command: TxnCommand): void {
    switch (command.type) {
      case TxnCommandType.ALLOCATE_PRODUCER_IDS:
        this.#nextProducerId = Math.max(this.#nextProducerId, command.firstId + command.count);
        return;
      case TxnCommandType.STORE_TRANSACTION:
        this.#writable().set(command.transaction.transactionalId, deepFreeze(command.transaction));
        this.#sorted = undefined;
        return;
      case TxnCommandType.DELETE_TRANSACTION: {
        const current = this.#transactions.get(command.transactionalId);
        if (current === undefined || current.producerId !== command.producerId || current.producerEpoch !== command.producerEpoch) return;
        this.#writable().delete(command.transactionalId);
        this.#sorted = undefined;
        return;
      }
    }
  }

  /** Rebuilds a store from snapshot() read back from JSON; CORRUPT_MESSAGE (the reader's) for anything malformed. */
  static restore(shape: ShapeReader, value: unknown, path: string): TransactionStore {
    const s = shape.object(value, path, ['nextProducerId', 'transactions']);
    const next = shape.integer(s.nextProducerId, `${path}.nextProducerId`, 0);
    const transactions = new Map<string, TransactionImage>();
    let previous: string | undefined;
    shape.array(s.transactions, `${path}.transactions`, 10_000_000, (v, at) => {
      const image = readTransactionImage(shape, v, at);
      if (previous !== undefined && previous >= image.transactionalId) shape.fail(`${at}.transactionalId`, `after ${JSON.stringify(previous)} (sorted, unique)`, image.transactionalId);
      if (image.producerId >= next) shape.fail(`${at}.producerId`, `below nextProducerId ${next}`, image.producerId);
      previous = image.transactionalId;
      transactions.set(image.transactionalId, deepFreeze(image));
    });
    return new TransactionStore(next, transactions);
  }

  #writable(): Map<string, TransactionImage> {
    if (this.#shared) {
      this.#transactions = new Map(this.#transactions);
      this.#shared = false;
    }
    return this.#transactions;
  }
}
