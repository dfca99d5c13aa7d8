"""A Kafka bus (aiokafka) behind the same `Bus` interface as the in-process bus.

One shared producer (acks=all) publishes every event keyed by `event.key`, so
per-key order holds on any partition count. Each consumer group gets one
consumer with manual commits: an offset is committed only once its event was
handled or dead-lettered (at-least-once; the base class drops redelivered ids).

Lag is tracked locally, without broker round trips: the end offset of a
partition is the highest offset this process's producer was acked for, or the
consumer's last fetched high-water mark, whichever is larger. Events produced by
another process are therefore only counted once this group has fetched from that
partition.

A bus built with `from_newest=True` (a console watching an engine from another
process) joins no consumer group: each subscription reads every partition of its
topics by itself, from the newest offsets as they stand when `start()` returns,
commits nothing, and keeps dead letters out of the engine's topics (logged only).
So two consoles never split a topic between them, nothing is replayed from before
the console started, and nothing is left behind on the broker when it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from engine.backoff import Backoff
from engine.bus.base import Bus, SegregationError, Subscription, check_namespace
from engine.events import DeadLetter, Event, MalformedEvent, Namespace, decode_event, encode_event
from engine.tasks import cancel_and_wait
from engine.topics import all_topics, dlq_topic, topic_namespace

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code
CONSUMER_RETRY_MIN_S = 0.1  # a consumer that hit a broker error waits at least this before trying again
# the largest event: a busy day's DaySnapshot (500 orders, 500 fills, 500 recent events, P&L curves of
# many strategies) is 1-3 MB of JSON, above the 1 MiB Kafka clients and brokers allow by default
MAX_EVENT_BYTES = 8 * 1024 * 1024
TOPIC_CONFIGS = {"max.message.bytes": str(MAX_EVENT_BYTES)}  # topics this bus creates; not existing ones
METADATA_WAIT_S = 5.0  # how long a from-newest reader waits for its topics' metadata, and for their end


class BusUnavailable(RuntimeError):
    """The Kafka broker cannot be reached, or refused a send after every retry."""


@dataclass(slots=True)
class _GroupConsumer:
    sub: Subscription
    group_id: str
    consumer: AIOKafkaConsumer | None = None
    task: asyncio.Task[None] | None = None
    # next offset to handle, per partition (= offset of the last handled record + 1)
    handled: dict[TopicPartition, int] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    busy: bool = False  # records were taken from the consumer and are being handled
    # the wait before polling again after a broker error, or before retrying a record it could not settle
    backoff: Backoff = field(default_factory=lambda: Backoff(0.0))


class KafkaBus(Bus):
    def __init__(
        self,
        *,
        bootstrap: str,
        group_prefix: str = "alpha-panda",
        max_retries: int = 2,
        retry_backoff_s: float = 0.01,
        partitions: int = 1,
        linger_ms: int = 2,
        send_attempts: int = 3,
        session_timeout_ms: int = 6_000,
        heartbeat_interval_ms: int = 1_000,
        fetch_max_wait_ms: int = 50,
        max_poll_records: int = 500,
        client_id: str = "alpha-panda",
        from_newest: bool = False,
    ) -> None:
        super().__init__(max_retries=max_retries, retry_backoff_s=retry_backoff_s)
        self.bootstrap = bootstrap
        self.group_prefix = group_prefix
        self.partitions = partitions
        self.linger_ms = linger_ms
        self.send_attempts = max(1, send_attempts)
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.max_poll_records = max_poll_records
        self.client_id = client_id
        self.from_newest = from_newest
        self._producer: AIOKafkaProducer | None = None
        self._groups: list[_GroupConsumer] = []
        self._produced: dict[TopicPartition, int] = {}  # acked end offset per partition
        self._running = False

    # -- lifecycle ------------------------------------------------------------
    def _on_subscribe(self, sub: Subscription) -> None:
        group = _GroupConsumer(
            sub=sub,
            group_id=f"{self.group_prefix}.{sub.group}",
            backoff=Backoff(max(self.retry_backoff_s, CONSUMER_RETRY_MIN_S), factor=1.0),
        )
        self._groups.append(group)
        if self._running:
            group.task = asyncio.create_task(self._start_and_consume(group), name=f"kafka:{sub.group}")

    async def start(self) -> None:
        """Connect the producer, create topics, join every consumer group.

        Raises BusUnavailable when the broker cannot be reached.
        """
        if self._running:
            return
        # Idempotent producers need InitProducerId, which not every Kafka-protocol
        # broker supports; redelivered events are dropped by id on the consume side.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            linger_ms=self.linger_ms,
            max_request_size=MAX_EVENT_BYTES,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise BusUnavailable(f"Kafka at {self.bootstrap} is unreachable: {exc}") from exc
        self._producer = producer
        try:
            await self._create_topics()
            await asyncio.gather(*(self._start_consumer(group) for group in self._groups))
        except BusUnavailable:
            await self.stop()
            raise
        except (KafkaError, OSError) as exc:
            await self.stop()
            raise BusUnavailable(f"Kafka at {self.bootstrap} failed during start: {exc}") from exc
        self._running = True
        for group in self._groups:
            group.task = asyncio.create_task(self._consume(group), name=f"kafka:{group.sub.group}")

    async def _create_topics(self) -> None:
        names = set(all_topics())
        for group in self._groups:
            names.update(group.sub.topics)
        names.update([dlq_topic(name) for name in names])
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        await admin.start()
        try:
            response = await admin.create_topics(
                [NewTopic(name, self.partitions, 1, topic_configs=TOPIC_CONFIGS) for name in sorted(names)]
            )
        finally:
            await admin.close()
        for topic, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                log.warning("could not create Kafka topic %s: error %d %s", topic, code, rest)

    async def _start_consumer(self, group: _GroupConsumer) -> None:
        if self.from_newest:
            await self._start_newest_reader(group)
            return
        consumer = AIOKafkaConsumer(
            *group.sub.topics,
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=group.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await consumer.start()
        group.consumer = consumer

    async def _start_newest_reader(self, group: _GroupConsumer) -> None:
        """Read every partition of the group's topics from their end offsets as they stand now.

        Positions are resolved before this returns, so an event published afterwards (an
        answer to a request this process sends next) is never skipped by a late offset reset.
        """
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, group.sub.topics)
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            await self._skip_to_highwater(consumer, partitions)
            for tp in partitions:
                group.handled[tp] = await consumer.position(tp)
        except BaseException:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
            raise
        group.consumer = consumer

    async def _skip_to_highwater(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Move past every record already on the partitions, dropping what a fetch brings meanwhile.

        The end offset alone is not enough: some Kafka-protocol brokers (tansu) answer it with
        the last batch's first offset + 1; a fetch's high-water mark is right on every broker.
        """
        deadline = time.monotonic() + METADATA_WAIT_S
        while any(consumer.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                raise BusUnavailable(
                    f"Kafka at {self.bootstrap} did not answer a fetch in {METADATA_WAIT_S:g} s"
                )
            await consumer.getmany(*partitions, timeout_ms=self.fetch_max_wait_ms)
        for tp in partitions:
            end = consumer.highwater(tp)
            if end is not None and end > await consumer.position(tp):
                consumer.seek(tp, end)

    async def _partitions(self, consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
        """Every partition of these topics (a topic created a moment ago may need a metadata refresh)."""
        deadline = time.monotonic() + METADATA_WAIT_S
        while True:
            await consumer.topics()  # refreshes the metadata partitions_for_topic reads
            partitions = [
                TopicPartition(topic, partition)
                for topic in topics
                for partition in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            missing = sorted(set(topics) - {tp.topic for tp in partitions})
            if not missing:
                return partitions
            if time.monotonic() > deadline:
                raise BusUnavailable(f"Kafka at {self.bootstrap} has no topic {', '.join(missing)}")
            await asyncio.sleep(0.1)

    async def _start_and_consume(self, group: _GroupConsumer) -> None:
        await self._start_consumer(group)
        await self._consume(group)

    async def stop(self) -> None:
        """Stop consumers (committing what was handled), then flush and stop the producer."""
        self._running = False
        for group in self._groups:
            if group.task is not None:
                await cancel_and_wait(group.task)
                group.task = None
            if group.consumer is not None:
                await self._commit(group)
                with contextlib.suppress(KafkaError, OSError):
                    await group.consumer.stop()
                group.consumer = None
                group.handled.clear()
                group.committed.clear()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(KafkaError, OSError):
                await producer.flush()
            with contextlib.suppress(KafkaError, OSError):
                await producer.stop()

    # -- publishing -----------------------------------------------------------
    async def publish_dead_letter(
        self,
        topic: str,
        letter: DeadLetter,
        *,
        namespace: Namespace,
        correlation_id: str = "",
        causation_id: str = "",
    ) -> None:
        if self.from_newest:  # a console's own failure: the engine's dead-letter topics are not its to fill
            log.error("not dead-lettered (console bus): %s on %s: %s", letter.group, topic, letter.error)
            return
        await super().publish_dead_letter(
            topic, letter, namespace=namespace, correlation_id=correlation_id, causation_id=causation_id
        )

    def _checked(self, topic: str, event: Event) -> None:
        try:
            check_namespace(topic, event)
        except SegregationError:
            self.stats.rejected_segregation += 1
            raise

    def _live_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BusUnavailable(f"Kafka bus for {self.bootstrap} is not started")
        return self._producer

    async def publish(self, topic: str, event: Event) -> None:
        self._checked(topic, event)
        await self._send(topic, encode_event(event), event.key.encode())
        self._count_published(topic)

    async def publish_many(self, topic: str, events: Sequence[Event]) -> None:
        """Send a batch and await every acknowledgement together.

        A send that fails is retried on its own afterwards, so after a broker
        hiccup a retried event can arrive behind later ones of the same key.
        """
        for event in events:
            self._checked(topic, event)
        producer = self._live_producer()
        pending: list[tuple[bytes, bytes, asyncio.Future[RecordMetadata] | None]] = []
        for event in events:
            value, key = encode_event(event), event.key.encode()
            try:
                future = await producer.send(topic, value=value, key=key)
            except KafkaError:
                future = None
            pending.append((value, key, future))
        futures = [f for _, _, f in pending if f is not None]
        results = await asyncio.gather(*futures, return_exceptions=True)
        outcome = iter(results)
        for value, key, future in pending:
            result = next(outcome) if future is not None else None
            if isinstance(result, RecordMetadata):
                self._record_produced(result)
            elif isinstance(result, BaseException) and not isinstance(result, KafkaError):
                raise result
            else:
                await self._send(topic, value, key)
        published = self.stats.published
        published[topic] = published.get(topic, 0) + len(events)

    async def _send(self, topic: str, value: bytes, key: bytes) -> None:
        producer = self._live_producer()
        backoff = self.retry_backoff()
        attempt = 1
        while True:
            try:
                future = await producer.send(topic, value=value, key=key)
                metadata = await future
            except KafkaError as exc:
                if attempt >= self.send_attempts or not exc.retriable:
                    raise BusUnavailable(
                        f"Kafka at {self.bootstrap} refused a send to {topic!r} "
                        f"after {attempt} attempts: {exc}"
                    ) from exc
                await asyncio.sleep(backoff.next_delay())
                attempt += 1
                continue
            self._record_produced(metadata)
            return

    def _record_produced(self, metadata: RecordMetadata) -> None:
        tp = TopicPartition(metadata.topic, metadata.partition)
        end = metadata.offset + 1
        if end > self._produced.get(tp, 0):
            self._produced[tp] = end

    # -- consuming ------------------------------------------------------------
    async def _consume(self, group: _GroupConsumer) -> None:
        consumer = group.consumer
        assert consumer is not None
        sub = group.sub
        stats = sub.stats
        handled = group.handled
        while True:
            try:
                for tp in consumer.assignment():
                    if tp not in handled:
                        handled[tp] = await consumer.position(tp)
                batches = await consumer.getmany(
                    timeout_ms=self.fetch_max_wait_ms, max_records=self.max_poll_records
                )
            except asyncio.CancelledError:
                raise
            except KafkaError as exc:
                log.warning("Kafka consumer %s: %s; retrying", group.group_id, exc)
                await asyncio.sleep(group.backoff.next_delay())
                continue
            group.backoff.reset()
            if not batches:
                continue
            group.busy = True
            try:
                for tp, records in batches.items():
                    await self._handle_batch(group, tp, records)
                    highwater = consumer.highwater(tp)
                    if highwater is not None:
                        stats.backlog = max(highwater - handled.get(tp, highwater), 0)
            finally:
                group.busy = False
            stats.last_event_at = time.monotonic()
            await self._commit(group)

    async def _handle_batch(
        self, group: _GroupConsumer, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        handled = group.handled
        for record in records:
            try:
                await self._handle_record(group, record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the dead-letter publish failed: keep the offset, retry later
                log.error(
                    "Kafka consumer %s could not settle %s@%d: %s; will retry",
                    group.group_id,
                    tp.topic,
                    record.offset,
                    exc,
                )
                assert group.consumer is not None
                group.consumer.seek(tp, record.offset)
                await asyncio.sleep(group.backoff.next_delay())
                return
            handled[tp] = record.offset + 1

    async def _handle_record(self, group: _GroupConsumer, record: ConsumerRecord[bytes, bytes]) -> None:
        topic = record.topic
        raw = record.value or b""
        try:
            event = decode_event(raw)
        except MalformedEvent as exc:
            await self._dead_letter_raw(group.sub, topic, raw, f"MalformedEvent: {exc}")
            return
        try:
            check_namespace(topic, event)
        except SegregationError as exc:
            self.stats.rejected_segregation += 1
            await self._dead_letter_raw(group.sub, topic, raw, f"SegregationError: {exc}")
            return
        await self._deliver(group.sub, topic, event)

    async def _dead_letter_raw(self, sub: Subscription, topic: str, raw: bytes, error: str) -> None:
        """A record that never reached the handler: park its bytes on the topic's DLQ."""
        sub.stats.failed += 1
        sub.stats.dead_lettered += 1
        self.stats.dead_lettered += 1
        log.error("dead-lettered a record on %s for group %s: %s", topic, sub.group, error)
        await self.publish_dead_letter(
            topic,
            DeadLetter(
                topic=topic,
                group=sub.group,
                error=error,
                attempts=1,
                original=raw.decode("utf-8", errors="replace"),
            ),
            namespace=topic_namespace(topic),
        )

    async def _commit(self, group: _GroupConsumer) -> None:
        consumer = group.consumer
        if consumer is None or self.from_newest:
            return
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in group.handled.items()
            if tp in assigned and group.committed.get(tp) != offset
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (KafkaError, OSError) as exc:  # a rebalance or broker blip: redelivery is de-duplicated
            log.warning("Kafka consumer %s could not commit: %s", group.group_id, exc)
            return
        group.committed.update(offsets)

    # -- lag ------------------------------------------------------------------
    def _group_lag(self, group: _GroupConsumer) -> int | None:
        """Events not yet handled by this group, or None while it cannot know yet.

        It cannot know before its first fetch from an assigned partition (no
        high-water mark), nor for a partition that holds events but is not
        assigned to it (this bus assumes it is the group's only member).
        """
        consumer = group.consumer
        assigned = consumer.assignment() if consumer is not None else frozenset()
        topics = group.sub.topics
        lag = 0
        ends = {tp: end for tp, end in self._produced.items() if tp.topic in topics}
        for tp in assigned:
            assert consumer is not None
            highwater = consumer.highwater(tp)
            if highwater is None:
                return None
            if highwater > ends.get(tp, 0):
                ends[tp] = highwater
        for tp, end in ends.items():
            done = group.handled.get(tp)
            if done is None:
                if end > 0 and tp not in assigned:
                    return None
                done = 0
            lag += max(end - done, 0)
        return lag

    def backlog(self) -> int:
        """Sum of every group's lag as this process sees it (see the module docstring)."""
        return sum(self.group_backlog(group.sub.group) for group in self._groups)

    def group_backlog(self, group: str) -> int:
        for candidate in self._groups:
            if candidate.sub.group == group:
                lag = self._group_lag(candidate)
                return lag if lag is not None else 0
        return 0

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every group has handled every offset it knows of (or the timeout)."""
        if self._producer is not None:
            await self._producer.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if all(not g.busy and self._group_lag(g) == 0 for g in self._groups):
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
