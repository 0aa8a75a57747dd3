/**
 * The Raft host: drives one RaftNode with real time over a RaftStorage and a RaftTransport, for a
 * RaftStateMachine. The in-memory network and cluster under ./testing/ are test tooling and are
 * not exported.
 */
export { RaftHost, type AppendedProposal } from './raft-host.js';
export type { CallOptions, LeaderListener, MemberStatus, RaftHostOptions, RaftHostStatus } from './host-options.js';
export type { RaftStateMachine } from './state-machine.js';
