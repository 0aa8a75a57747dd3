/**
 * The schema registry's REST API on a coordinator node, from the resolved configuration: shared by
 * `streambus dev` and `streambus coordinator`. schema.registry.enable=false serves nothing.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { CoordinatorNode } from '../../coordinator/index.js';
import { advertisedHost, type ConfigValues } from '../config/index.js';

export interface RegistryAddresses {
  readonly bound: { readonly host: string; readonly port: number };
  readonly advertised: { readonly host: string; readonly port: number };
}

/** Starts the registry on `node` (closed by node.close()); null when disabled. */
export async function serveSchemaRegistry(node: CoordinatorNode, values: ConfigValues, logger: Logger): Promise<RegistryAddresses | null> {
  if (!values['schema.registry.enable']) return null;
  const service = await node.serveSchemaRegistry({
    listen: { host: values['schema.registry.host'], port: values['schema.registry.port'] },
    advertisedHost: advertisedHost(values, 'schema.registry', hostname()),
    incompatibleErrorCode: values['schema.registry.incompatible.error.code'] === '40901' ? 40901 : 409,
    logger: logger.child({ component: 'schema-registry' }),
  });
  return { bound: service.bound, advertised: service.advertised };
}
