"""Default cadence of a new flow: a flow kind may say how often its cycle should run by default
(``default_interval_minutes(options)`` on its handler class, e.g. the Procurify flows: every 1 to 4
hours, as the product page says), applied when a flow is created on an interval schedule with the
model's default interval. Each flow keeps its own schedule (``scheduling.sync_schedule``), so every
direction between two systems has its own cadence; a person changes it on the flow (interval or
cron) at any time after creation.
"""

from .flows import HANDLERS, handler_class

MODEL_DEFAULT = 1440  # Flow.interval_minutes' field default: "not chosen"


def default_interval(kind, options):
    """The kind's default interval in minutes, or None when it has none."""
    if kind not in HANDLERS:
        return None
    default = getattr(handler_class(kind), "default_interval_minutes", None)
    return int(default(options or {})) if default else None


def apply_default(flow):
    """On creation only: an interval flow left at the model default takes its kind's default."""
    if not flow._state.adding or flow.schedule_type != flow.INTERVAL or flow.interval_minutes != MODEL_DEFAULT:
        return
    minutes = default_interval(flow.kind, flow.options)
    if minutes:
        flow.interval_minutes = minutes
