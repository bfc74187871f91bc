"""Prometheus metrics of one app (own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    """Prometheus metrics of this process: requests, latencies, forecasts."""
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("recovery_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("recovery_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.forecast = Histogram("recovery_forecast_seconds", "time to compute a forecast",
                                  buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5),
                                  registry=self.registry)
        self.jobs = Gauge("recovery_jobs", "refit jobs by status", ["status"],
                          registry=self.registry)
        self.coverage = Gauge("recovery_monitor_coverage", "share of scores entered in the "
                              "last 4 weeks inside the served model's bands", ["band"],
                              registry=self.registry)
        self.quantile_score = Gauge("recovery_monitor_quantile_score", "mean quantile score "
                                    "of those scores (NRS points)", registry=self.registry)
        self.drift_of: str | None = None  # model and monotonic time of the last drift report
        self.drift_at = 0.0
        self.refit = Gauge("recovery_monitor_refit_suggested", "1 when the drift monitor "
                           "suggests a refit", registry=self.registry)
