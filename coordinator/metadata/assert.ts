/**
 * Assertions for programmer errors inside the metadata core.
 *
 * Operating errors (bad requests, corrupt bytes) are StreamBusErrors and are handled; a failed
 * assertion means our own code broke an invariant (for example, a command reached the state
 * machine without being validated), and the process must stop rather than serve wrong metadata.
 */
export class MetadataAssertionError extends Error {
  constructor(message: string) {
    super(`metadata invariant violated: ${message}`);
    this.name = 'MetadataAssertionError';
  }
}

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new MetadataAssertionError(typeof message === 'string' ? message : message());
}
