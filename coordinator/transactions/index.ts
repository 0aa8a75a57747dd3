/**
 * Producer ids and transactions on the coordinator: the pure state machine (txn.ts), the log
 * commands and applied state (txn-commands.ts, txn-store.ts), the marker sender
 * (marker-sender.ts), the leader's shell (txn-coordinator.ts) and the transaction APIs of the
 * native protocol (txn-api.ts). docs/transactions.md explains the design.
 */
export * from './txn-types.js';
export {
  addOffsets,
  addPartitions,
  callerProblem,
  commitTxnOffsets,
  completed,
  endTransaction,
  expired,
  fenceAndAbort,
  initTransactional,
  isOpen,
  isPrepared,
  mergeTopics,
  timedOut,
  type TxnStep,
} from './txn.js';
export {
  MAX_PRODUCER_ID_BLOCK,
  TxnCommandType,
  isTxnCommand,
  isTxnCommandType,
  type AllocateProducerIdsCommand,
  type DeleteTransactionCommand,
  type StoreTransactionCommand,
  type TxnCommand,
} from './txn-commands.js';
export { TransactionStore, type TransactionSnapshot, type TransactionStoreView } from './txn-store.js';
export { nativeMarkerSender, planMarkers, type MarkerBroker, type MarkerPartition, type MarkerPlan, type NativeMarkerSenderOptions, type TxnMarkerSender } from './marker-sender.js';
export {
  PRODUCER_ID_BLOCK_SIZE,
  TransactionCoordinator,
  transactionSettings,
  type TransactionCoordinatorApi,
  type TransactionCoordinatorOptions,
} from './txn-coordinator.js';
export { transactionApis, transactionHandlers, type TransactionApi, type TransactionApiDeps } from './txn-api.js';
