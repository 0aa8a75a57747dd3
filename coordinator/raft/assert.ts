/**
 * Assertions for programmer errors inside the Raft core.
 *
 * A failed assertion means the core (or its driver) broke an invariant that safety rests on, for
 * example a follower asked to truncate a committed entry. Continuing could serve or replicate wrong
 * metadata, so the node stops instead; the simulator reports the assertion as a failed seed.
 */
export class RaftAssertionError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'RaftAssertionError';
  }
}

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftAssertionError(typeof message === 'string' ? message : message());
}
