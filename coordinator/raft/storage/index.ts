/**
 * Raft storage: the contract the host persists through, and its classic-level implementation.
 */
export type { RaftStorage, RaftWrite } from './raft-storage.js';
export { LevelRaftStorage, type LevelRaftStorageOptions } from './level-raft-storage.js';
export { STORAGE_FORMAT_VERSION } from './storage-codec.js';
