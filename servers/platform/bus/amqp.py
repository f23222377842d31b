"""The RabbitMQ transport (aio-pika).

Topology, per consumer `c` (queue q = "<prefix>.c"):
- a durable topic exchange (routing key = event type); q is bound to it with
  the consumer's patterns;
- retry queues "q.retry.N", one per retry delay, with that delay as message
  TTL and q as dead-letter target: a failed event waits there, then returns
  to q (one queue per delay, so a short delay never waits behind a long one);
- "q.dlq" holds events that failed every attempt until they are replayed.

Messages are the serialized aether.events.v1.Event (protobuf), persistent,
published with publisher confirms; the attempt number travels in the
"x-attempt" header. A delivery is acknowledged only after the handler's
transaction committed (or after its retry/dead-letter copy was confirmed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiormq
import asyncpg
import pamqp.frame
from aether.events.v1 import event_pb2
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractRobustConnection
from aiormq import spec
from aiormq.abc import AbstractChannel as AbstractAiormqChannel
from aiormq.abc import ChannelFrame, DeliveredMessage
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from servers.platform.bus.core import (
    BatchFailed,
    BusConfig,
    DeadLetter,
    Subscription,
    first_of,
    handle_batch,
)
from servers.platform.bus.reporting import report_dead_letter

log = logging.getLogger("aether.bus.amqp")

CONTENT_TYPE = "application/x-protobuf; messageType=aether.events.v1.Event"
PUBLISH_TIMEOUT = 10.0
BATCH_LINGER = 0.005  # seconds; see AmqpTransport._worker


def _message(body: bytes, event_id: str, event_type: str, headers: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        message_id=event_id,
        type=event_type,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=headers,
    )


async def publish_batch(
    channel: aiormq.Channel, exchange: str, rows: Sequence[asyncpg.Record]
) -> list[asyncio.Future[Any]]:
    """Publish outbox rows (id, event_type, payload) on a confirm-mode aiormq
    channel as ONE socket write; returns a confirm future per row (an Ack
    resolves it, a Nack raises DeliveryError, a closed channel rejects it).

    aiormq's basic_publish costs, per message, a lock, a timeout scope, a trip
    through its 10-frame write queue and a send() syscall: ~75 us of relay CPU
    per event plus ~35 us in the broker (one TCP segment per message), most of
    the relay's share of the benchmark. This does what basic_publish does for
    a batch at once: under the channel lock, take the next delivery tags,
    register their confirm futures where the channel's confirm handler looks
    for them, and queue the frames (Basic.Publish, content header, body, the
    same bytes basic_publish sends) as one ChannelFrame. It uses aiormq's
    channel internals (delivery_tag, confirmations, write_queue; checked by
    tests/integration/test_bus_delivery.py). If it fails midway the caller
    drops the connection, so a half-assigned tag range is never reused."""
    if not channel.publisher_confirms:
        raise RuntimeError("publish_batch needs a channel in confirm mode")
    number = channel.number
    limit = channel.max_content_size
    methods: dict[str, bytes] = {}
    confirms: list[asyncio.Future[Any]] = []
    parts: list[bytes] = []
    async with channel.lock:
        for row in rows:
            body: bytes = row["payload"]
            event_type: str = row["event_type"]
            method = methods.get(event_type)
            if method is None:
                method = methods[event_type] = pamqp.frame.marshal(
                    spec.Basic.Publish(exchange=exchange, routing_key=event_type), number
                )
            properties = spec.Basic.Properties(
                content_type=CONTENT_TYPE,
                delivery_mode=2,  # persistent
                message_id=str(row["id"]),
                message_type=event_type,
                headers={},
            )
            parts.append(method)
            parts.append(pamqp.frame.marshal(ContentHeader(0, len(body), properties), number))
            for i in range(0, len(body), limit):
                parts.append(pamqp.frame.marshal(ContentBody(body[i : i + limit]), number))
            channel.delivery_tag += 1
            confirm = channel.create_future()
            channel.confirmations[channel.delivery_tag] = confirm
            confirms.append(confirm)
        await channel.connection.write_queue.put(ChannelFrame(payload=b"".join(parts), should_close=False))
    return confirms


def _tag(message: DeliveredMessage) -> int:
    tag = message.delivery_tag
    assert tag is not None  # a Basic.Deliver always carries one
    return tag


class AmqpTransport:
    """Publishing and consuming through RabbitMQ; see the module docstring."""

    name = "rabbitmq"

    def __init__(self, url: str, pool: asyncpg.Pool, config: BusConfig):
        self.url = url
        self.pool = pool
        self.config = config
        self._publisher: tuple[Any, AbstractExchange] | None = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        return await aio_pika.connect(self.url, timeout=5)

    async def _declare_exchange(self, channel: AbstractChannel) -> AbstractExchange:
        return await channel.declare_exchange(self.config.exchange, aio_pika.ExchangeType.TOPIC, durable=True)

    async def _exchange(self) -> AbstractExchange:
        async with self._lock:
            if self._publisher is None or self._publisher[0].is_closed:
                connection = await self._connect()
                channel = await connection.channel(publisher_confirms=True)
                self._publisher = (connection, await self._declare_exchange(channel))
            return self._publisher[1]

    async def _reset_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(publisher[0].close(), 2)

    async def deliver(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> None:
        """Publish claimed outbox rows and wait for every broker confirm; raises
        (so the relay's transaction rolls back) if any is not confirmed."""
        try:
            exchange = await self._exchange()
            channel = await exchange.channel.get_underlay_channel()  # type: ignore[attr-defined]
            async with asyncio.timeout(PUBLISH_TIMEOUT):  # one deadline for the batch
                await asyncio.gather(*await publish_batch(channel, exchange.name, rows))
        except BaseException:
            await self._reset_publisher()
            raise

    async def _topology(self, channel: AbstractChannel, sub: Subscription) -> aio_pika.abc.AbstractQueue:
        exchange = await self._declare_exchange(channel)
        name = self.config.queue(sub.consumer)
        queue = await channel.declare_queue(name, durable=True)
        for pattern in sub.patterns:
            await queue.bind(exchange, routing_key=pattern)
        for i, delay in enumerate(self.config.retry_delays, start=1):
            await channel.declare_queue(
                f"{name}.retry.{i}",
                durable=True,
                arguments={
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                },
            )
        await channel.declare_queue(f"{name}.dlq", durable=True)
        return queue

    async def run_consumer(self, sub: Subscription, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, reconnecting (with growing pauses) when
        the broker goes away; unacknowledged deliveries return to the queue."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._session(sub, stop)
                backoff = 0.2
            except Exception as exc:
                log.warning("consumer connection failed", extra={"consumer": sub.consumer, "error": str(exc)})
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _session(self, sub: Subscription, stop: asyncio.Event) -> None:
        """One connection's worth of consuming: until it closes or `stop`."""
        connection = await self._connect()
        workers: list[asyncio.Task[None]] = []
        try:
            closed = asyncio.Event()
            connection.close_callbacks.add(lambda *_: closed.set())
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.config.prefetch)
            queue = await self._topology(channel, sub)
            # Consume on the underlying aiormq channel (as `deliver` publishes):
            # aio-pika wraps every delivery in an IncomingMessage and a second
            # task, which was the largest Python cost per event. Same channel,
            # same prefetch, manual acks; aio-pika still declares the topology
            # and publishes the (rare) retry and dead-letter copies.
            underlay: AbstractAiormqChannel = await channel.get_underlay_channel()
            inbox: asyncio.Queue[DeliveredMessage] = asyncio.Queue()
            # One worker, handling deliveries in order, so a batch can be
            # acknowledged with a single multiple-ack (less work for the broker).
            workers = [asyncio.create_task(self._worker(sub, connection, channel, underlay, inbox))]

            async def on_message(message: DeliveredMessage) -> None:
                inbox.put_nowait(message)

            await underlay.basic_consume(queue.name, on_message, no_ack=False)
            await first_of(closed, stop)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)

    async def _worker(
        self,
        sub: Subscription,
        connection: Any,
        channel: AbstractChannel,
        underlay: AbstractAiormqChannel,
        inbox: asyncio.Queue[DeliveredMessage],
    ) -> None:
        """Take whatever deliveries are waiting (up to batch_size) and handle them,
        on one database connection held for the whole session (no pool acquire
        and reset query per batch). On an unexpected failure (e.g. the database
        is unreachable) drop the AMQP connection: RabbitMQ requeues everything
        unacknowledged, and nothing unhandled can be covered by a later
        multiple-ack; the next session gets a fresh database connection."""
        try:
            async with self.pool.acquire() as db:
                while True:
                    batch = [await inbox.get()]
                    while len(batch) < self.config.batch_size and not inbox.empty():
                        batch.append(inbox.get_nowait())
                    if 1 < len(batch) < self.config.batch_size:
                        # Under load deliveries trickle in while a batch is handled, so
                        # batches came out ~10 events long: a transaction (BEGIN, inbox
                        # INSERT, COMMIT) per 10 events. A short linger, only when more
                        # than one was waiting (so a lone event is not delayed), fills
                        # batches and saves PostgreSQL and Python work per event.
                        await asyncio.sleep(BATCH_LINGER)
                        while len(batch) < self.config.batch_size and not inbox.empty():
                            batch.append(inbox.get_nowait())
                    await self._handle_batch(sub, db, channel, underlay, batch)
        except Exception as exc:
            log.warning("consumer failed; reconnecting", extra={"consumer": sub.consumer, "error": str(exc)})
            with contextlib.suppress(Exception):
                await connection.close()

    async def _handle_batch(
        self,
        sub: Subscription,
        db: asyncpg.Connection,
        channel: AbstractChannel,
        underlay: AbstractAiormqChannel,
        messages: list[DeliveredMessage],
    ) -> None:
        """Handle deliveries in one transaction; a failing event gets its retry
        (or dead letter) and the others are handled again without it."""
        batch: list[tuple[DeliveredMessage, event_pb2.Event]] = []
        for message in messages:
            try:
                batch.append((message, event_pb2.Event.FromString(message.body)))
            except Exception as exc:  # not an Event at all: nothing will ever handle it
                await self._dead_letter(sub, db, channel, underlay, message, None, 1, f"undecodable: {exc}")
        while batch:
            try:
                await handle_batch(db, sub.consumer, sub.handler, [event for _, event in batch])
            except BatchFailed as failed:
                bad = next(i for i, (_, event) in enumerate(batch) if event.id == failed.event_id)
                message, event = batch.pop(bad)
                await self._failed(sub, db, channel, underlay, message, event, failed.error)
                continue
            with contextlib.suppress(Exception):  # channel gone: redelivered, the inbox dedupes
                # In-order worker: every earlier delivery is in this batch or already settled.
                await underlay.basic_ack(_tag(batch[-1][0]), multiple=True, wait=False)
            return

    async def _failed(
        self,
        sub: Subscription,
        db: asyncpg.Connection,
        channel: AbstractChannel,
        underlay: AbstractAiormqChannel,
        message: DeliveredMessage,
        event: event_pb2.Event,
        exc: Exception,
    ) -> None:
        """One failed attempt: schedule the next one after its delay, or dead-letter."""
        attempt = int((message.header.properties.headers or {}).get("x-attempt", 1))  # type: ignore[arg-type]
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning(
            "handler failed", extra={"consumer": sub.consumer, "event_id": event.id, "attempt": attempt}
        )
        if attempt >= self.config.max_attempts:
            await self._dead_letter(sub, db, channel, underlay, message, event, attempt, error)
        else:
            await self._republish(
                channel,
                underlay,
                message,
                f"{self.config.queue(sub.consumer)}.retry.{attempt}",
                {"x-attempt": attempt + 1, "x-last-error": error},
            )

    async def _republish(
        self,
        channel: AbstractChannel,
        underlay: AbstractAiormqChannel,
        message: DeliveredMessage,
        queue: str,
        headers: dict[str, Any],
    ) -> None:
        """Put a copy on `queue` (confirmed), then ack the original. If that
        fails, raise: the worker drops the connection, so the original (still
        unacked) comes back rather than being covered by a later multiple-ack."""
        try:
            props = message.header.properties
            copy = _message(message.body, props.message_id or "", props.message_type or "", headers)
            await channel.default_exchange.publish(copy, routing_key=queue, timeout=PUBLISH_TIMEOUT)
            await underlay.basic_ack(_tag(message))
        except Exception as exc:
            log.warning("could not schedule retry", extra={"queue": queue, "error": str(exc)})
            raise

    async def _dead_letter(
        self,
        sub: Subscription,
        db: asyncpg.Connection,
        channel: AbstractChannel,
        underlay: AbstractAiormqChannel,
        message: DeliveredMessage,
        event: event_pb2.Event | None,
        attempts: int,
        error: str,
    ) -> None:
        headers = {
            "x-attempt": attempts,
            "x-last-error": error,
            "x-consumer": sub.consumer,
            "x-dead-at": datetime.now(UTC).isoformat(),
        }
        await self._republish(channel, underlay, message, f"{self.config.queue(sub.consumer)}.dlq", headers)
        if event is not None:
            with contextlib.suppress(Exception):
                async with db.transaction():
                    await report_dead_letter(db, sub.consumer, event, attempts, error)

    async def _drain_dlq(
        self, consumer: str, replay: bool, event_ids: Sequence[str] = ()
    ) -> tuple[list[DeadLetter], int]:
        """Read every message of the consumer's DLQ; with `replay`, move the
        selected ones back to its queue. The rest return to the DLQ unchanged."""
        name = self.config.queue(consumer)
        connection: AbstractRobustConnection = await self._connect()
        letters: list[DeadLetter] = []
        replayed = 0
        try:
            channel = await connection.channel(publisher_confirms=True)
            dlq = await channel.declare_queue(f"{name}.dlq", durable=True)
            held: list[AbstractIncomingMessage] = []
            while (message := await dlq.get(no_ack=False, fail=False, timeout=5)) is not None:
                held.append(message)
                headers = message.headers or {}
                letter = DeadLetter(
                    consumer,
                    message.message_id or "",
                    message.type or "",
                    int(headers.get("x-attempt", 0)),  # type: ignore[arg-type]
                    str(headers.get("x-last-error", "")),
                    str(headers.get("x-dead-at", "")),
                )
                if replay and (not event_ids or letter.event_id in event_ids):
                    copy = _message(message.body, letter.event_id, letter.event_type, {"x-attempt": 1})
                    await channel.default_exchange.publish(copy, routing_key=name, timeout=PUBLISH_TIMEOUT)
                    await message.ack()
                    replayed += 1
                else:
                    letters.append(letter)
            for message in held:
                if not message.processed:
                    await message.nack(requeue=True)
        finally:
            await connection.close()
        return letters, replayed

    async def dead_letters(self, consumer: str | None = None) -> list[DeadLetter]:
        return (await self._drain_dlq(consumer or "analytics", replay=False))[0]

    async def replay(self, consumer: str | None = None, event_ids: Sequence[str] = ()) -> int:
        return (await self._drain_dlq(consumer or "analytics", replay=True, event_ids=event_ids))[1]

    async def close(self) -> None:
        await self._reset_publisher()
