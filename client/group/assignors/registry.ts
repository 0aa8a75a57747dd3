/**
 * The built-in assignors by name, and the rebalance protocol a set of assignors implies.
 *
 * A consumer lists its assignors in order of preference and offers all of them when it joins; the
 * coordinator picks the first that every member offers. The rebalance protocol follows Kafka's
 * rule: cooperative only when every assignor the consumer is configured with supports it, since
 * the coordinator may pick any of them.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { cooperativeStickyAssignor } from './cooperative-sticky.js';
import { rangeAssignor } from './range.js';
import { roundRobinAssignor } from './round-robin.js';
import { stickyAssignor } from './sticky.js';
import { AssignorName, RebalanceProtocol, type Assignor } from './types.js';

const builtIn: ReadonlyMap<string, Assignor> = new Map<string, Assignor>([
  [AssignorName.RANGE, rangeAssignor],
  [AssignorName.ROUND_ROBIN, roundRobinAssignor],
  [AssignorName.STICKY, stickyAssignor],
  [AssignorName.COOPERATIVE_STICKY, cooperativeStickyAssignor],
]);

/** The built-in assignor with this name; StreamBusError(INVALID_CONFIG) for any other name. */
export function assignorByName(name: string): Assignor {
  const assignor = builtIn.get(name);
  if (assignor === undefined) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `unknown partition assignor "${name}"; known: ${[...builtIn.keys()].join(', ')}`);
  }
  return assignor;
}

/**
 * The rebalance protocol for a consumer configured with `assignors`: cooperative if all of them
 * support it, else eager. StreamBusError(INVALID_CONFIG) when the list is empty or the assignors
 * share no protocol.
 */
export function rebalanceProtocolFor(assignors: readonly Assignor[]): RebalanceProtocol {
  if (assignors.length === 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'a consumer needs at least one partition assignor');
  const shared = (protocol: RebalanceProtocol): boolean => assignors.every((assignor) => assignor.protocols.includes(protocol));
  if (shared(RebalanceProtocol.COOPERATIVE)) return RebalanceProtocol.COOPERATIVE;
  if (shared(RebalanceProtocol.EAGER)) return RebalanceProtocol.EAGER;
  throw new StreamBusError(ErrorCode.INVALID_CONFIG, `the assignors ${assignors.map((a) => a.name).join(', ')} share no rebalance protocol`);
}
