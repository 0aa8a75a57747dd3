/**
 * A stand-in partition leader for the transaction coordinator's tests: a real NativeServer on
 * 127.0.0.1 (port 0) that speaks the native protocol and serves WRITE_TXN_MARKERS only, recording
 * every marker it receives and answering each partition with what `answer` decides (NONE by
 * default). It lets the coordinator's tests see the markers, refuse them for a while
 * (NOT_LEADER_OR_FOLLOWER), or go away, without a broker process. Tests that need the broker's own
 * handling of markers run a real broker.
 */
import { pino } from 'pino';
import { type Handler, NativeServer, type RequestContext } from '../../../broker/network/index.js';
import type { ApiName, RequestOf, ResponseOf } from '../../../proto/api.js';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import type * as M from '../../../proto/messages.js';

/** One partition's marker as the stand-in received it. */
export interface ReceivedMarker {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly committed: boolean;
  readonly coordinatorEpoch: number;
  readonly topic: string;
  readonly partition: number;
  /** What the stand-in answered. */
  readonly errorCode: ErrorCode;
}

export type MarkerAnswer = (marker: Omit<ReceivedMarker, 'errorCode'>) => ErrorCode;

export class MarkerBroker implements Handler {
  readonly received: ReceivedMarker[] = [];
  answer: MarkerAnswer = () => ErrorCode.NONE;
  readonly #server: NativeServer;

  private constructor(port: number) {
    this.#server = new NativeServer({ handler: this, host: '127.0.0.1', port, logger: pino({ level: 'silent' }) });
  }

  /** Listens on `port` (0, the default: a free one; a port given: a broker coming back where it was). */
  static async start(port = 0): Promise<MarkerBroker> {
    const broker = new MarkerBroker(port);
    await broker.#server.listen();
    return broker;
  }

  get port(): number {
    return this.#server.port;
  }

  /** The markers answered NONE. */
  get written(): ReceivedMarker[] {
    return this.received.filter((m) => m.errorCode === ErrorCode.NONE);
  }

  handle<A extends ApiName>(api: A, _version: number, body: RequestOf<A>, _ctx: RequestContext): Promise<ResponseOf<A>> {
    if (api !== 'WRITE_TXN_MARKERS') return Promise.reject(new StreamBusError(ErrorCode.UNKNOWN_API, `the marker stand-in serves WRITE_TXN_MARKERS only, not ${api}`));
    const request = body as M.WriteTxnMarkersRequest;
    const response: M.WriteTxnMarkersResponse = {
      markers: request.markers.map((marker) => ({
        producerId: marker.producerId,
        topics: marker.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((partition) => {
            const seen = { producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch, topic: t.name, partition };
            const errorCode = this.answer(seen);
            this.received.push({ ...seen, errorCode });
            return { partition, errorCode, errorMessage: '' };
          }),
        })),
      })),
    };
    return Promise.resolve(response as ResponseOf<A>);
  }

  close(): Promise<void> {
    return this.#server.close();
  }
}
