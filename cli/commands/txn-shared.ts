/**
 * What the `streambus txn ...` and `streambus producers ...` commands share: the age of an open
 * transaction, and a client that has the admin calls those commands need (producer state and the
 * transaction coordinator), built from the configuration like the group commands' coordinator client.
 */
import type { Admin } from '../../client/index.js';
import type { ResolvedConfig } from '../config/index.js';

/** Seconds since `startMs` (one decimal is shown), or null when nothing is open. */
export function ageSeconds(startMs: number | undefined, nowMs: number): number | null {
  if (startMs === undefined) return null;
  return Math.max(0, (nowMs - startMs) / 1000);
}

/** Runs `use` with an admin client of the configured brokers and coordinators, and closes it afterwards. */
export async function withAdmin<T>(ctx: { readonly config: ResolvedConfig }, use: (admin: Admin) => Promise<T>): Promise<T> {
  const { StreamBus } = await import('../../client/index.js');
  const values = ctx.config.values;
  const bus = new StreamBus({
    brokers: [...values.brokers],
    coordinators: [...values.coordinators],
    clientId: values['client.id'],
    requestTimeoutMs: values['request.timeout.ms'],
  });
  try {
    return await use(bus.admin());
  } finally {
    await bus.close();
  }
}
