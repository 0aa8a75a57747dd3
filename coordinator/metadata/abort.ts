/**
 * Rejection reasons are always Errors: an AbortSignal's reason can be any value, and a caught
 * value can be anything, so both pass through here before they reach a promise's reject.
 */

/** The abort reason as an Error (DOMException AbortError when the reason is not an Error). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('the operation was aborted', 'AbortError');
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
