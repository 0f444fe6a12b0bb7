"""The service's Prometheus metrics, defined once here so that every layer can feed them.

This module imports nothing of execplanner (only prometheus_client), so `store`, `cloud`, `lifecycle` and `api`
may all import it without breaking the dependency rule. `GET /metrics` (api/metrics.py) exposes the default
registry. Label values are bounded sets (route templates, phases, site names from the catalogue, fixed outcome
words), never user input, so the number of series stays small.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no `*_created` series: they double the output and nothing here reads them

REQUESTS = Counter(
    "execplanner_http_requests",
    "HTTP requests answered, by method, route template (`unmatched` for no route) and status code.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "execplanner_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OFFERS = Counter(
    "execplanner_offers",
    "Offers by event: made (given to a client), then accepted, rejected, expired, cancelled or failed.",
    ["event"],
)
PHASE_CHANGES = Counter("execplanner_phase_changes", "Session phase changes, by the phase entered.", ["phase"])
HOLDS = Gauge(
    "execplanner_holds",
    "Capacity held now by offers and sessions, per site, VO and resource (instances, cores, memory_mib, "
    "floating_ips, gpus, volumes, gigabytes; sibling offers count once); read from the database when scraped, so "
    "every replica reports the same federation-wide value.",
    ["site", "vo", "resource"],
)
LAUNCHES = Counter(
    "execplanner_launches",
    "Launches of accepted sessions by the lifecycle driver, by site and outcome: available (the VM is ACTIVE and "
    "answers), failed (the session became FAILED), cancelled (the client cancelled while it launched), retried "
    "(a transient cloud error; the launch is tried again after a backoff).",
    ["site", "outcome"],
)
CLOUD_CALLS = Counter(
    "execplanner_cloud_calls",
    "Calls to OpenStack sites, by site, operation (create_server, get_server, ...) and outcome: ok, error (the "
    "cloud refused: quota, bad request, conflict), transient (5xx, 429 or no connection: retried), timeout.",
    ["site", "operation", "outcome"],
)
SCHEDULER_PASS_SECONDS = Histogram(
    "execplanner_scheduler_pass_duration_seconds",
    "How long one scheduler pass (expiring due offers, ending holds that are over) took.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
)
SCHEDULER_LAST_PASS = Gauge(
    "execplanner_scheduler_last_pass_timestamp_seconds",
    "When this process's scheduler last finished a pass (Unix time); 0 if it never has.",
)
SCHEDULER_LAG = Gauge(
    "execplanner_scheduler_lag_seconds",
    "How long after its expiry this process's last scheduler pass expired its most overdue offer.",
)
OFFERS_OVERDUE = Gauge(
    "execplanner_offers_overdue_seconds",
    "How long past its expiry the oldest offer still OFFERED is (0: none), read from the database when scraped, so "
    "every replica reports the same value. Above a few seconds, no replica's scheduler is expiring offers.",
)
EXPIRY_LAG = Histogram(
    "execplanner_offer_expiry_lag_seconds",
    "How long after its `expires` each offer this process expired was written EXPIRED (issue #16.7: under 1 s).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0),
)
PASS_FAILURES = Counter(
    "execplanner_pass_failures",
    "Passes of a background loop that failed (the database unreachable, say), by loop: scheduler or driver. The "
    "loop goes on; the log has the first failure's traceback, a line a minute while they go on, and the recovery.",
    ["loop"],
)
SCHEDULER_IDLE = Gauge(
    "execplanner_scheduler_since_last_pass_seconds",
    "Seconds since this process's scheduler last finished a pass, when scraped (-1: it has not run here). "
    "Growing far past the scheduler interval means the loop is stuck or failing.",
)
