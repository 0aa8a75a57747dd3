/**
 * The controller's wiring, shared by `streambus coordinator`, `streambus broker` and `streambus dev`:
 * the settings a coordinator's controller runs with (from the resolved configuration), and what a
 * broker's controlled shutdown watches (how many partitions the followed metadata says it leads).
 *
 * unclean.leader.election.enable is the broker-wide default of the topic config; the controller
 * applies it to topics that do not set their own.
 */
import type { LeadershipView } from '../../broker/server/broker-lifecycle.js';
import type { ControllerSettings, MetadataCache } from '../../coordinator/index.js';
import type { ConfigValues } from '../config/index.js';

export function controllerSettings(values: ConfigValues): ControllerSettings {
  return {
    uncleanLeaderElectionEnable: values['unclean.leader.election.enable'],
    autoLeaderRebalanceEnable: values['auto.leader.rebalance.enable'],
    leaderImbalanceCheckIntervalMs: values['leader.imbalance.check.interval.seconds'] * 1000,
    disconnectFenceMs: values['broker.disconnect.fence.ms'],
  };
}

/** Broker `nodeId`'s leaderships in the followed metadata, for its controlled shutdown. */
export function leadershipView(cache: MetadataCache, nodeId: number): LeadershipView {
  return {
    leaderships: () => {
      let led = 0;
      for (const topic of cache.state.topics()) for (const p of topic.partitions) if (p.leader === nodeId) led++;
      return led;
    },
    onChange: (listener) => cache.subscribe(() => listener()),
  };
}
