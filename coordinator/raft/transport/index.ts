/**
 * The Raft transport layer's public entry: the RaftTransport contract, its TCP implementation and
 * the peer protocol's codec (proto/raft.proto). The Raft host imports from here.
 */
export type { PeerAddress, RaftTransport } from './raft-transport.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_QUEUED_MESSAGES,
  DEFAULT_RECONNECT_BACKOFF_MAX_MS,
  DEFAULT_RECONNECT_BACKOFF_MIN_MS,
  TcpRaftTransport,
  reconnectDelayMs,
  type OutboundPeerStatus,
  type TcpRaftTransportOptions,
  type TcpRaftTransportStatus,
} from './tcp-transport.js';
export {
  RAFT_PROTOCOL_VERSION,
  RaftApi,
  decodeHello,
  decodeRaftMessage,
  decodeRefusal,
  encodeHello,
  encodeHelloFrame,
  encodeRaftMessage,
  encodeRaftMessageFrame,
  encodeRefusal,
  encodeRefusalFrame,
  raftSchemaUrl,
  type Hello,
  type Refusal,
} from './wire.js';
