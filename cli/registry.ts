/**
 * Every `streambus` command: its words and summary, known without loading it, and a loader for
 * the module that implements it. The runner imports only the module of the command being run (and
 * none for --help at the top level), which keeps start-up fast.
 */
import type { CommandDescriptor, OptionSpecs, PositionalSpecs } from './command.js';

export type AnyCommand = CommandDescriptor<OptionSpecs, PositionalSpecs>;

export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<AnyCommand>;
}

export const commands: readonly CommandEntry[] = [
  {
    name: 'dev',
    summary: 'Run a single-node cluster in this process (data in ./data)',
    load: async () => (await import('./commands/dev.js')).command,
  },
  {
    name: 'coordinator',
    summary: 'Run one node of the coordinator group (the Raft group that owns cluster metadata)',
    load: async () => (await import('./commands/coordinator.js')).command,
  },
  {
    name: 'broker',
    summary: 'Run a broker that follows a coordinator group (see `streambus coordinator`)',
    load: async () => (await import('./commands/broker.js')).command,
  },
  { name: 'topic create', summary: 'Create a topic', load: async () => (await import('./commands/topic-create.js')).command },
  { name: 'topic list', summary: 'List topics with their partition counts', load: async () => (await import('./commands/topic-list.js')).command },
  {
    name: 'topic describe',
    summary: 'Show a topic\'s partitions (leader, replicas, ISR, offsets) and configs',
    load: async () => (await import('./commands/topic-describe.js')).command,
  },
  { name: 'topic delete', summary: 'Delete topics and all their data', load: async () => (await import('./commands/topic-delete.js')).command },
  {
    name: 'topic alter-config',
    summary: 'Set or reset a topic\'s configs',
    load: async () => (await import('./commands/topic-alter-config.js')).command,
  },
  {
    name: 'topic add-partitions',
    summary: 'Raise a topic\'s partition count',
    load: async () => (await import('./commands/topic-add-partitions.js')).command,
  },
  { name: 'produce', summary: 'Write records read from stdin, one per line', load: async () => (await import('./commands/produce.js')).command },
  { name: 'consume', summary: 'Print records of a topic', load: async () => (await import('./commands/consume.js')).command },
  {
    name: 'cluster status',
    summary: 'Show the coordinator group: leader, term, commit index and members with their lag',
    load: async () => (await import('./commands/cluster-status.js')).command,
  },
  {
    name: 'cluster members add',
    summary: 'Add a coordinator node to the Raft group as a voter',
    load: async () => (await import('./commands/cluster-members-add.js')).command,
  },
  {
    name: 'cluster members remove',
    summary: 'Remove a coordinator node from the Raft group',
    load: async () => (await import('./commands/cluster-members-remove.js')).command,
  },
  {
    name: 'cluster members transfer-leader',
    summary: 'Hand coordinator leadership to another voter',
    load: async () => (await import('./commands/cluster-members-transfer-leader.js')).command,
  },
];
