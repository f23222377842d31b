"""Proto <-> domain conversions for the analytics service, in one place."""

from __future__ import annotations

from typing import Any

from aether.analytics.v1 import analytics_service_pb2 as pb
from aether.analytics.v1 import events_pb2
from aether.events.v1 import error_reported_pb2, event_pb2
from google.protobuf import json_format, struct_pb2

from servers.analytics.domain import (
    Dashboard,
    ErrorReport,
    HealthReport,
    MetricRecorded,
    RecordedEvent,
    ReportedError,
    UsageCounts,
    UsageReport,
)
from servers.platform.bus import ERROR_EVENT
from servers.platform.pagination import pagination
from servers.platform.timestamps import timestamp, to_datetime
from servers.platform.uow import OutgoingEvent

# Importing the payload modules registers their types, so Any payloads of
# domain events can be rendered as JSON metadata.
from aether.ai.v1 import events_pb2 as _ai_events  # noqa: F401  # isort: skip
from aether.auth.v1 import events_pb2 as _auth_events  # noqa: F401  # isort: skip
from aether.code.v1 import events_pb2 as _code_events  # noqa: F401  # isort: skip
from aether.integrations.v1 import events_pb2 as _integration_events  # noqa: F401  # isort: skip
from aether.tasks.v1 import events_pb2 as _task_events  # noqa: F401  # isort: skip


def struct_to_dict(value: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


def _payload_dict(event: event_pb2.Event) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(event.payload)
    except (TypeError, KeyError, json_format.Error):  # a payload type this build does not know
        return {"@type": event.payload.type_url}


# The payloads of ERROR_EVENT: the platform's, and the deprecated analytics one
# that events written before the upgrade still carry. Same fields and numbers.
_ERROR_PAYLOADS = {
    error_reported_pb2.ErrorReported.DESCRIPTOR.full_name,
    events_pb2.ErrorReported.DESCRIPTOR.full_name,
}


def _error_payload(event: event_pb2.Event) -> error_reported_pb2.ErrorReported:
    """The error of either payload; empty for any other (the envelope still
    names the service, request and user)."""
    error = error_reported_pb2.ErrorReported()
    if event.payload.TypeName() in _ERROR_PAYLOADS:
        error.ParseFromString(event.payload.value)
    return error


def from_bus(event: event_pb2.Event) -> RecordedEvent | ReportedError | None:
    """What the analytics consumer stores for a bus event: a usage event, an
    error occurrence, or nothing (other analytics.* events: no loops)."""
    if event.type == ERROR_EVENT:
        error = _error_payload(event)
        return ReportedError(
            event_id=event.id,
            service=error.service or event.source,
            severity=error.severity or "error",
            message=error.message,
            error_type=error.error_type,
            occurred_at=to_datetime(error.occurred_at if error.HasField("occurred_at") else event.time),
            operation=error.operation,
            request_id=error.request_id or event.request_id,
            trace_id=error.trace_id,
            user_id=error.user_id or event.actor_id,
            details=struct_to_dict(error.details),
        )
    if event.type.startswith("analytics."):
        return None
    return RecordedEvent(
        id=event.id,
        event_type=event.type,
        user_id=event.actor_id or (event.subject if event.type.startswith("user.") else ""),
        source=event.source,
        occurred_at=to_datetime(event.time),
        subject=event.subject,
        request_id=event.request_id,
        metadata=_payload_dict(event),
    )


def to_event(recorded: MetricRecorded) -> OutgoingEvent:
    """The one mapping of the analytics domain event to its proto."""
    event = recorded.event
    metadata = struct_pb2.Struct()
    metadata.update(event.metadata)
    payload = events_pb2.MetricRecorded(
        event_id=event.id,
        event_type=event.event_type,
        user_id=event.user_id,
        metadata=metadata,
        timestamp=timestamp(event.occurred_at),
    )
    return OutgoingEvent("analytics.metric.recorded", event.id, payload)


def _counts(counts: UsageCounts) -> dict[str, int]:
    return {
        "task_created": counts.task_created,
        "task_completed": counts.task_completed,
        "ai_requests": counts.ai_requests,
        "code_reviews": counts.code_reviews,
        "active_users": counts.active_users,
    }


def usage_to_proto(report: UsageReport) -> pb.GetUsageResponse:
    return pb.GetUsageResponse(
        period=pb.Period(
            start_date=timestamp(report.start), end_date=timestamp(report.end), granularity=report.granularity
        ),
        metrics=[
            pb.UsageBucket(bucket_start=timestamp(b.start), bucket_end=timestamp(b.end), **_counts(b.counts))
            for b in report.buckets
        ],
    )


def errors_to_proto(report: ErrorReport) -> pb.GetErrorsResponse:
    return pb.GetErrorsResponse(
        summary=pb.ErrorSummary(
            total_errors=report.summary.total,
            by_severity=report.summary.by_severity,
            by_service=report.summary.by_service,
        ),
        errors=[
            pb.ErrorGroup(
                service=g.service,
                severity=g.severity,
                message=g.message,
                error_type=g.error_type,
                count=g.count,
                first_seen=timestamp(g.first_seen),
                last_seen=timestamp(g.last_seen),
                last_request_id=g.last_request_id,
            )
            for g in report.groups.items
        ],
        pagination=pagination(report.groups),
    )


def health_to_proto(report: HealthReport) -> pb.GetHealthResponse:
    return pb.GetHealthResponse(
        status=report.status,
        timestamp=timestamp(report.timestamp),
        metrics=pb.SystemMetrics(
            cpu=report.metrics.cpu, memory=report.metrics.memory, disk=report.metrics.disk
        ),
        services=[
            pb.ServiceHealth(
                name=s.name,
                status=s.status,
                latency_ms=s.latency_ms,
                uptime_seconds=s.uptime_seconds,
                last_check=timestamp(s.last_check),
            )
            for s in report.services
        ],
    )


def dashboard_to_proto(board: Dashboard) -> pb.GetDashboardResponse:
    return pb.GetDashboardResponse(
        summary=pb.DashboardSummary(
            **_counts(board.current), errors=board.errors, system_health=board.system_health
        ),
        trends=pb.DashboardTrends(**board.trends),
        top_users=[
            pb.TopUser(
                user_id=u.user_id,
                event_count=u.event_count,
                tasks_completed=u.tasks_completed,
                ai_requests=u.ai_requests,
            )
            for u in board.top_users
        ],
    )
