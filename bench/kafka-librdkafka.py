"""The librdkafka side of bench/kafka.ts: produce or consume through the Kafka listener with
confluent-kafka-python (Debian's python3-confluent-kafka, librdkafka in C underneath), so the
listener is measured with a client whose own cost is small, unlike kafkajs.

Usage:
  kafka-librdkafka.py produce BOOTSTRAP TOPIC PARTITIONS VALUE_BYTES BATCH_BYTES MAX_MESSAGES MAX_SECONDS
  kafka-librdkafka.py consume BOOTSTRAP TOPIC PARTITIONS EXPECTED MAX_SECONDS

Prints one JSON object: messages and bytes acknowledged (produce) or read (consume), the seconds
they took, errors with the first one, and this process's CPU seconds. Produce sends acks=all with
linger.ms 5 and batch.size BATCH_BYTES, round-robin over the partitions, keeping at most 16 MiB
of records queued (queue.buffering.max.kbytes), as the native client's window in the bench.
Consume assigns every partition from its beginning (no group join, as the native consumer in the
bench) and starts its clock at the first record, so the new process's connection, metadata and
offset lookups (the native client has them behind it) are not counted.
"""
import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition


def produce(bootstrap, topic, partitions, value_bytes, batch_bytes, max_messages, max_seconds):
    producer = Producer({
        'bootstrap.servers': bootstrap,
        'acks': 'all',
        'linger.ms': 5,
        'batch.size': batch_bytes,
        'queue.buffering.max.kbytes': 16 * 1024,
        'enable.idempotence': False,
        'compression.type': 'none',
    })
    value = os.urandom(value_bytes)
    state = {'acked': 0, 'errors': 0, 'first_error': None}

    def delivered(error, _message):
        if error is None:
            state['acked'] += 1
        else:
            state['errors'] += 1
            if state['first_error'] is None:
                state['first_error'] = str(error)

    # A warm-up record, acknowledged before the clock starts (metadata, connections).
    producer.produce(topic, value=value, partition=0, on_delivery=delivered)
    producer.flush(30)
    state['acked'] = 0
    cpu_before = time.process_time()
    started = time.monotonic()
    deadline = started + max_seconds
    sent = 0
    while sent < max_messages and time.monotonic() < deadline and state['errors'] == 0:
        try:
            producer.produce(topic, value=value, partition=sent % partitions, on_delivery=delivered)
            sent += 1
        except BufferError:
            producer.poll(0.005)
            continue
        if sent % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    seconds = time.monotonic() - started
    return {
        'messages': state['acked'],
        'bytes': state['acked'] * value_bytes,
        'seconds': seconds,
        'errors': state['errors'],
        'firstError': state['first_error'],
        'cpuSeconds': time.process_time() - cpu_before,
    }


def consume(bootstrap, topic, partitions, expected, max_seconds):
    consumer = Consumer({
        'bootstrap.servers': bootstrap,
        'group.id': 'bench-librdkafka-' + topic,
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
        'fetch.wait.max.ms': 100,
        # The native consumer's partition fetch size (client/consumer), instead of librdkafka's 1 MiB.
        'max.partition.fetch.bytes': 4 * 1024 * 1024,
    })
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    messages = 0
    size = 0
    errors = 0
    first_error = None
    cpu_before = time.process_time()
    started = None
    deadline = time.monotonic() + max_seconds
    while messages < expected and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=10000, timeout=0.5):
            if started is None:
                started = time.monotonic()
                cpu_before = time.process_time()
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    errors += 1
                    first_error = first_error or str(error)
                continue
            messages += 1
            size += len(message.value() or b'')
    seconds = time.monotonic() - started if started is not None else max_seconds
    consumer.close()
    if messages < expected:
        errors += 1
        first_error = first_error or 'read %d of %d' % (messages, expected)
    return {
        'messages': min(messages, expected),
        'bytes': size,
        'seconds': seconds,
        'errors': errors,
        'firstError': first_error,
        'cpuSeconds': time.process_time() - cpu_before,
    }


def main(argv):
    if len(argv) >= 9 and argv[1] == 'produce':
        result = produce(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), int(argv[7]), float(argv[8]))
    elif len(argv) >= 7 and argv[1] == 'consume':
        result = consume(argv[2], argv[3], int(argv[4]), int(argv[5]), float(argv[6]))
    else:
        sys.stderr.write(__doc__)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
