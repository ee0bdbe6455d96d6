"""The data contract: which tables a dataset may hold and which columns each must have.

A dataset is a folder. Every table is optional, but at least one *activity* table
(orders, email events, NPS answers, product usage) must be present. After loading,
every table uses the canonical column names and dtypes below, whatever the export
called them (renames live in ``dataset.yml``).

=============  =====================================================================
table          canonical columns (required first)
=============  =====================================================================
customers      customer_id; signup_date, churn_date; any other column is a segment
               attribute, except the personal columns declared in the config
orders         customer_id, order_date; amount, order_id, is_refund (derived)
email_events   customer_id, campaign_id, event_time, event
nps            customer_id, response_date, score; trigger
usage          customer_id, event_date; feature, sessions, minutes
interventions  customer_id, action_date, action, group; campaign_id, variant, cost,
               channel, owner (what the team did, to whom; ``group`` is ``treatment``
               or ``control``, a control row being a customer deliberately not contacted)
=============  =====================================================================

``interventions`` is optional and is not an activity table: it records actions of the
team, not of the customer, so it never counts as an interaction.

Canonical dtypes: ``customer_id`` and other identifiers are pandas ``string``; dates
are ``datetime64[ns]`` without time zone; ``amount`` and ``minutes`` are ``float64``;
``score`` is ``int64``; ``sessions`` is ``float64`` (default 1); ``event`` is one of
:data:`EMAIL_EVENTS`; ``is_refund`` is ``bool``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACTION_TABLES",
    "ACTIVITY_TABLES",
    "EMAIL_EVENTS",
    "NPS_TRIGGERS",
    "TABLES",
    "TableSpec",
    "INTERACTION_KINDS",
    "INTERVENTION_ACTIONS",
    "INTERVENTION_GROUPS",
]

#: Email event types accepted in ``email_events.event``.
EMAIL_EVENTS: tuple[str, ...] = (
    "sent",
    "delivered",
    "open",
    "click",
    "reply",
    "bounce_soft",
    "bounce_hard",
    "unsubscribe",
    "spam_complaint",
)

#: Moments after which an NPS survey is sent (SPEC section 4, indicator 5).
NPS_TRIGGERS: tuple[str, ...] = ("periodic", "support", "delivery", "billing", "renewal")

#: Values of ``interventions.group``: ``control`` rows are customers deliberately not contacted.
INTERVENTION_GROUPS: tuple[str, ...] = ("treatment", "control")

#: Usual ``interventions.action`` codes (others are accepted as they are, lower-cased).
INTERVENTION_ACTIONS: tuple[str, ...] = (
    "email_sequence", "incentive", "survey", "call", "personal_call", "sms", "push", "preference_update",
)

#: Kinds of significant interaction, strongest first (SPEC section 1, [003 section 2]).
INTERACTION_KINDS: tuple[str, ...] = ("purchase", "support", "product_use", "reply", "click", "open")


@dataclass(frozen=True)
class TableSpec:
    """What one table of the contract holds.

    Attributes
    ----------
    name : canonical table name, also the default file stem.
    required : columns that must be present.
    optional : columns that are used when present.
    dates : columns parsed as dates.
    ids : identifier columns, normalised to strings (``17850.0`` -> ``17850``).
    floats : numeric columns (decimal comma accepted).
    time_column : the column that dates an event (None for ``customers``).
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    floats: tuple[str, ...] = ()
    time_column: str | None = None
    extra_allowed: bool = False
    notes: dict[str, str] = field(default_factory=dict)


TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        name="customers",
        required=("customer_id",),
        optional=("signup_date", "churn_date"),
        dates=("signup_date", "churn_date"),
        ids=("customer_id",),
        extra_allowed=True,
    ),
    "orders": TableSpec(
        name="orders",
        required=("customer_id", "order_date"),
        optional=("amount", "order_id"),
        dates=("order_date",),
        ids=("customer_id", "order_id"),
        floats=("amount",),
        time_column="order_date",
    ),
    "email_events": TableSpec(
        name="email_events",
        required=("customer_id", "campaign_id", "event_time", "event"),
        dates=("event_time",),
        ids=("customer_id", "campaign_id"),
        time_column="event_time",
    ),
    "nps": TableSpec(
        name="nps",
        required=("customer_id", "response_date", "score"),
        optional=("trigger",),
        dates=("response_date",),
        ids=("customer_id",),
        time_column="response_date",
    ),
    "usage": TableSpec(
        name="usage",
        required=("customer_id", "event_date"),
        optional=("feature", "sessions", "minutes"),
        dates=("event_date",),
        ids=("customer_id",),
        floats=("sessions", "minutes"),
        time_column="event_date",
    ),
    "interventions": TableSpec(
        name="interventions",
        required=("customer_id", "action_date", "action", "group"),
        optional=("campaign_id", "variant", "cost", "channel", "owner"),
        dates=("action_date",),
        ids=("customer_id", "campaign_id"),
        floats=("cost",),
        time_column="action_date",
    ),
}

#: Tables that record activity; a dataset needs at least one of them.
ACTIVITY_TABLES: tuple[str, ...] = ("orders", "email_events", "nps", "usage")

#: Optional tables that are not activity: what the team did (``interventions``).
ACTION_TABLES: tuple[str, ...] = ("interventions",)
