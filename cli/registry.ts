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
  { name: 'group list', summary: 'List consumer groups with their state', load: async () => (await import('./commands/group-list.js')).command },
  {
    name: 'group describe',
    summary: 'Show a consumer group: members, assignment, committed and end offsets, lag',
    load: async () => (await import('./commands/group-describe.js')).command,
  },
  {
    name: 'group seek',
    summary: 'Move a consumer group\'s committed offsets (dry run unless --execute)',
    load: async () => (await import('./commands/group-seek.js')).command,
  },
  { name: 'group delete', summary: 'Delete empty consumer groups and their offsets', load: async () => (await import('./commands/group-delete.js')).command },
  {
    name: 'schema register',
    summary: 'Register a schema under a subject (prints its id and version)',
    load: async () => (await import('./commands/schema-register.js')).command,
  },
  {
    name: 'schema get',
    summary: 'Show a subject\'s schema (a version, latest by default) or a schema by id',
    load: async () => (await import('./commands/schema-get.js')).command,
  },
  {
    name: 'schema list',
    summary: 'List subjects with their latest version, id and type',
    load: async () => (await import('./commands/schema-list.js')).command,
  },
  {
    name: 'schema diff',
    summary: 'Show what breaks compatibility between two versions of a subject, both ways',
    load: async () => (await import('./commands/schema-diff.js')).command,
  },
  {
    name: 'schema check',
    summary: 'Test a schema against a subject\'s compatibility level, listing every problem',
    load: async () => (await import('./commands/schema-check.js')).command,
  },
  {
    name: 'schema delete',
    summary: 'Delete a subject or one version (soft; --permanent after a soft delete)',
    load: async () => (await import('./commands/schema-delete.js')).command,
  },
  {
    name: 'schema compat get',
    summary: 'Show the compatibility level (global, or a subject\'s)',
    load: async () => (await import('./commands/schema-compat-get.js')).command,
  },
  {
    name: 'schema compat set',
    summary: 'Set the compatibility level (global, or a subject\'s)',
    load: async () => (await import('./commands/schema-compat-set.js')).command,
  },
  { name: 'txn list', summary: 'List transactional ids with their state, open partitions and age', load: async () => (await import('./commands/txn-list.js')).command },
  {
    name: 'txn describe',
    summary: 'Show a transactional id: state, producer, open partitions and groups, age',
    load: async () => (await import('./commands/txn-describe.js')).command,
  },
  {
    name: 'producers describe',
    summary: 'Show the producers each partition of a topic keeps state for, with their open transactions',
    load: async () => (await import('./commands/producers-describe.js')).command,
  },
  { name: 'produce', summary: 'Write records read from stdin, one per line', load: async () => (await import('./commands/produce.js')).command },
  { name: 'consume', summary: 'Print records of a topic', load: async () => (await import('./commands/consume.js')).command },
  {
    name: 'cluster status',
    summary: 'Show the coordinator group: leader, term, commit index and members with their lag',
    load: async () => (await import('./commands/cluster-status.js')).command,
  },
  {
    name: 'cluster brokers',
    summary: 'List the brokers registered with the coordinators: address, rack, epoch, fenced, draining, leaders and replicas',
    load: async () => (await import('./commands/cluster-brokers.js')).command,
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
  {
    name: 'broker drain',
    summary: 'Put a broker in maintenance: move its leaderships to other in-sync replicas and keep new ones off it',
    load: async () => (await import('./commands/broker-drain.js')).drainCommand,
  },
  {
    name: 'broker undrain',
    summary: 'Take a broker out of maintenance, so preferred elections and placements use it again',
    load: async () => (await import('./commands/broker-drain.js')).undrainCommand,
  },
  {
    name: 'partitions reassign',
    summary: 'Move partition replicas between brokers from a plan: preview, execute, verify, list, cancel, or generate a balanced plan',
    load: async () => (await import('./commands/partitions-reassign.js')).command,
  },
  {
    name: 'partitions elect-leaders',
    summary: 'Move partition leadership back to preferred replicas, or elect leaders for leaderless partitions (unclean)',
    load: async () => (await import('./commands/partitions-elect-leaders.js')).command,
  },
];
