/** The broker's Kafka wire-protocol listener: Kafka clients served by the broker's own handlers. */
export { KafkaListener, type KafkaListenerOptions } from './listener.js';
export { KafkaApiService } from './service.js';
export {
  KAFKA_LISTENER_NAME,
  type KafkaApiOptions,
  type KafkaBrokerConfigEntry,
  type KafkaBrokerView,
  type KafkaClusterView,
  type KafkaEndpoint,
  type KafkaGroupCoordinator,
  type KafkaTxnCoordinator,
} from './types.js';
