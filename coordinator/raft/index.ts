/**
 * The Raft layer's public entry: the pure consensus core and its data types. Storage, transport and
 * the MetadataLog built on top import from here, not from the files behind it. The deterministic
 * simulator (./sim/) is test tooling and is not exported.
 */
export { RaftNode, type RaftNodeOptions, type RaftTestBugs, type RandomInt, type RestoredState } from './raft-node.js';
export { RaftAssertionError } from './assert.js';
export {
  EntryKind,
  MessageType,
  NO_NODE,
  Role,
  type AppendMessage,
  type AppendResponseMessage,
  type ConfigEntry,
  type Entry,
  type FollowerStatus,
  type HardState,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type MembershipChange,
  type Message,
  type NormalEntry,
  type ProposalPosition,
  type RaftStatus,
  type ReadIndexMessage,
  type ReadIndexResponseMessage,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMessage,
  type SnapshotMeta,
  type SoftState,
  type TimeoutNowMessage,
  type VoteRequestMessage,
  type VoteResponseMessage,
} from './types.js';
