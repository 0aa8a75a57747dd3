/**
 * The coordinator's topic admin operations: create and delete topics, alter configs, create
 * partitions (writes on the leader, through the write pipeline) and describe configs (a read on
 * any node). Each write logs one info line per kind per event-loop turn (write-log.ts).
 */
import { ErrorCode, type StreamBusError } from '../proto/errors.js';
import * as controller from './metadata/controller.js';
import type {
  AlterConfigsRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  CreateTopicResult,
  DescribeConfigsResult,
  TopicDefaults,
  TopicResult,
} from './metadata/controller.js';
import type { RandomSource } from './metadata/random.js';
import type { MetadataStateView } from './metadata/state.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import type { AdminOptions, AdminOutcome, CreateTopicsOptions, ValidateOnlyOptions } from './coordinator-options.js';
import { read, type Submit, write } from './coordinator-steps.js';
import type { WriteLog } from './write-log.js';

export interface TopicAdminOptions {
  readonly log: RaftMetadataLog;
  readonly defaults: TopicDefaults;
  readonly random: RandomSource;
  readonly maxPartitionsPerTopic: number | undefined;
  readonly writeLog: WriteLog;
  readonly submit: Submit;
  /** Why the coordinator takes no more calls (failed or closing), or undefined. */
  readonly refusal: () => StreamBusError | undefined;
}

export class TopicAdmin {
  readonly #log: RaftMetadataLog;
  readonly #defaults: TopicDefaults;
  readonly #random: RandomSource;
  readonly #maxPartitionsPerTopic: number | undefined;
  readonly #writeLog: WriteLog;
  readonly #submit: Submit;
  readonly #refusal: () => StreamBusError | undefined;

  constructor(options: TopicAdminOptions) {
    this.#log = options.log;
    this.#defaults = options.defaults;
    this.#random = options.random;
    this.#maxPartitionsPerTopic = options.maxPartitionsPerTopic;
    this.#writeLog = options.writeLog;
    this.#submit = options.submit;
    this.#refusal = options.refusal;
  }

  describeConfigs(names: readonly string[]): Promise<AdminOutcome<DescribeConfigsResult>> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return Promise.resolve({ results: controller.describeConfigs(this.#log.state, names), metadataOffset: this.#log.committedOffset });
  }

  createTopics(topics: readonly CreateTopicRequest[], options: CreateTopicsOptions): Promise<AdminOutcome<CreateTopicResult>> {
    return this.#topicWrite('created topics', options.signal, (state) =>
      controller.createTopics(state, topics, {
        defaults: options.defaults ?? this.#defaults,
        brokers: controller.placementBrokers(state),
        random: this.#random,
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
        ...this.#limits(),
      }),
    );
  }

  deleteTopics(names: readonly string[], options: AdminOptions): Promise<AdminOutcome<TopicResult>> {
    return this.#topicWrite('deleted topics', options.signal, (state) => controller.deleteTopics(state, names));
  }

  alterConfigs(requests: readonly AlterConfigsRequest[], options: ValidateOnlyOptions): Promise<AdminOutcome<TopicResult>> {
    return this.#topicWrite('altered topic configs', options.signal, (state) =>
      controller.alterConfigs(state, requests, options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
    );
  }

  createPartitions(requests: readonly CreatePartitionsRequest[], options: ValidateOnlyOptions): Promise<AdminOutcome<TopicResult>> {
    return this.#topicWrite('created partitions', options.signal, (state) =>
      controller.createPartitions(state, requests, {
        brokers: controller.placementBrokers(state),
        random: this.#random,
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
        ...this.#limits(),
      }),
    );
  }

  #topicWrite<R extends TopicResult>(
    what: string,
    signal: AbortSignal | undefined,
    decide: (state: MetadataStateView) => controller.ControllerOutcome<R>,
  ): Promise<AdminOutcome<R>> {
    return this.#submit(signal, (state) => {
      const outcome = decide(state);
      if (outcome.commands.length === 0) return read((metadataOffset) => ({ results: outcome.results, metadataOffset }));
      return write(outcome.commands, (offsets) => {
        const metadataOffset = offsets.at(-1) ?? -1;
        const names = outcome.results.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => r.name);
        this.#writeLog.record(what, names, metadataOffset);
        return { results: outcome.results, metadataOffset };
      });
    });
  }

  #limits(): { maxPartitionsPerTopic?: number } {
    return this.#maxPartitionsPerTopic === undefined ? {} : { maxPartitionsPerTopic: this.#maxPartitionsPerTopic };
  }
}
