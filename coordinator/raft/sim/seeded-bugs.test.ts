/**
 * The harness's own test (mutation testing, "bug seeding"): each deliberate bug of the core must
 * make the simulator fail within 1,000 seeds, or the simulator is not checking what it claims.
 * The seeds run in the default option mix, the same one the clean suite passes.
 */
import { describe, expect, it } from 'vitest';
import type { RaftTestBugs } from '../raft-node.js';
import { runSimulation, simOptionsForSeed } from './simulator.js';

const SEED_BUDGET = 1000;

/** Each bug, and the invariants that may legitimately be the first to notice it. */
const cases: readonly { bug: keyof RaftTestBugs; caughtBy: RegExp }[] = [
  { bug: 'voteReplyBeforePersist', caughtBy: /^(durable-vote|double-vote|election-safety)/ },
  { bug: 'commitOldTermEntries', caughtBy: /^(justified-commit|committed-entry-changed|leader-completeness|state-machine-safety)/ },
  { bug: 'readWithoutQuorumCheck', caughtBy: /^linearizability/ },
  { bug: 'truncateOnEveryAppend', caughtBy: /^(raft invariant violated|durable-ack|log-matching|committed-entry-changed|justified-commit|leader-completeness)/ },
  { bug: 'countStaleVotes', caughtBy: /^(elected-by-quorum|election-safety|double-vote)/ },
];

describe('raft > simulation > seeded bugs', () => {
  for (const { bug, caughtBy } of cases) {
    it(`catches ${bug} within ${SEED_BUDGET} seeds, and the failing seed replays identically`, () => {
      let caught: ReturnType<typeof runSimulation> | undefined;
      for (let seed = 0; seed < SEED_BUDGET && caught === undefined; seed++) {
        const result = runSimulation(simOptionsForSeed(seed, { bugs: { [bug]: true } }));
        if (!result.ok) caught = result;
      }
      expect(caught, `${bug} survived ${SEED_BUDGET} seeds`).toBeDefined();
      expect(caught!.violation).toMatch(caughtBy);
      const again = runSimulation(caught!.options);
      expect(again.violation).toBe(caught!.violation);
      expect(again.traceHash).toBe(caught!.traceHash);
      // The same seed without the bug is clean: the bug, not the schedule, failed the run.
      expect(runSimulation({ ...caught!.options, bugs: {} }).ok).toBe(true);
    }, 120_000);
  }
});
