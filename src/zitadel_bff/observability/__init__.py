"""What operators watch: Prometheus metrics, structured logs with request ids, audit events.

Everything here is off until asked for, and costs nothing per request while off: the metrics
default to :data:`NO_METRICS` (methods that do nothing), and request ids and the access log are
added by a subclass of the middleware that is installed only when they are wanted.
:func:`shown` makes text from outside fit for a log line or an error message.
"""

from .logs import (
    AUDIT_EVENTS,
    JsonFormatter,
    audit,
    configure_logging,
    current_request_id,
    set_request_id,
)
from .metrics import NO_METRICS, Metrics, MetricsServer, multiprocess_dir
from .untrusted import shown

__all__ = [
    "AUDIT_EVENTS",
    "NO_METRICS",
    "JsonFormatter",
    "Metrics",
    "MetricsServer",
    "audit",
    "configure_logging",
    "current_request_id",
    "multiprocess_dir",
    "set_request_id",
    "shown",
]
