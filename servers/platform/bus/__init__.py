"""The event backbone: transactional outbox relay, RabbitMQ and PostgreSQL
transports, `subscribe` with inbox dedupe, retries and dead letters."""

from servers.platform.bus.bus import EventBus
from servers.platform.bus.core import BusConfig, DeadLetter, Handler, matches, pattern_regex
from servers.platform.bus.reporting import ERROR_EVENT, report_error

__all__ = [
    "ERROR_EVENT",
    "BusConfig",
    "DeadLetter",
    "EventBus",
    "Handler",
    "matches",
    "pattern_regex",
    "report_error",
]
