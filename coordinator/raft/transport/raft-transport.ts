/**
 * What the Raft host needs from the network. TcpRaftTransport is the implementation; tests of the
 * host may connect hosts in one process through an in-memory network with the same contract.
 *
 * Delivery is best effort, like the network the core is built for: a message may be lost (peer down,
 * queue full, connection reset) but is never altered, and messages to one peer over one connection
 * arrive in the order sent. The core retries by itself (heartbeats, probes), so the transport never
 * blocks a sender and never retransmits.
 */
import type { Message } from '../index.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface RaftTransport {
  /**
   * Queues each message for its `to` peer and returns at once. A message for a peer with no known
   * address, or whose bounded queue is full, is dropped and the peer reported unreachable.
   */
  send(messages: readonly Message[]): void;
  /** Where received messages go (set once, by the host, before start). */
  onMessage(handler: (message: Message) => void): void;
  /** Told when a peer cannot be reached (connect failed, queue overflow, connection lost). */
  onUnreachable(handler: (peerId: number) => void): void;
  /** The current peers (membership changes add and remove them); connections to dropped peers close. */
  setPeers(peers: ReadonlyMap<number, PeerAddress>): void;
  /** Stops accepting and sending; closes every connection. Idempotent. */
  close(): Promise<void>;
}
