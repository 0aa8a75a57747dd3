/**
 * The transaction coordinator's settings from the resolved configuration, shared by `streambus
 * coordinator` and `streambus dev`: Kafka's transaction.* and transactional.id.* settings, by
 * their Kafka names (cli/config/schema.ts documents each; docs/transactions.md explains them).
 */
import type { TransactionSettings } from '../../coordinator/index.js';
import type { ConfigValues } from '../config/index.js';

export function transactionSettings(values: ConfigValues): TransactionSettings {
  return {
    maxTimeoutMs: values['transaction.max.timeout.ms'],
    idExpirationMs: values['transactional.id.expiration.ms'],
    abortTimedOutIntervalMs: values['transaction.abort.timed.out.transaction.cleanup.interval.ms'],
  };
}
