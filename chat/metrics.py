"""What an operator watches: the project's Prometheus metrics and the `/metrics` page.

Each daphne process serves its own metrics, every series labelled with `process` (host and
pid), so that Prometheus scrapes each process as its own target and sums them: nothing is
shared between processes and nothing needs prometheus_client's file-based multiprocess mode.

- per process, counted on the way: lines relayed (counter), the server's time per line from
  the frame's arrival to the partner's copy handed on (histogram), find -> matched
  (histogram);
- per process, garbage-collector pauses by generation, in wall and in CPU time (histograms),
  and the objects start-up froze (gauge);
- per process, read when scraped (nothing on the line path): sockets, by state (idle,
  searching, in a conversation: `sum(chat_sockets{state="in_conversation"}) / 2` is the
  number of live conversations);
- for the whole site, read when scraped (the same from every process; take `max`): users
  searching per mode (the matching queue), lines waiting for analysis, open reports.

The page answers 404 unless the request carries `Authorization: Bearer <METRICS_TOKEN>` or
comes straight from an address in `METRICS_ALLOWED_ADDRESSES`: without either setting it is
off.
"""
from __future__ import annotations

import gc
import hmac
import ipaddress
import os
import socket
import time
from collections.abc import Iterable, Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from chat import lifecycle
from chat.matching import MODES, get_matcher
from chatsite.plumbing.redis_client import get_redis
from moderation.analysis import PENDING_KEY
from moderation.models import Report

PROCESS = f"{socket.gethostname()}:{os.getpid()}"

# The metrics are this process's by nature, like its sockets: one registry per process, made
# once at import, holding the children already bound to this process's label, so that the
# line path does no label lookup.
REGISTRY = CollectorRegistry(auto_describe=True)
_lines = Counter("chat_lines_relayed", "Lines accepted and relayed by this process",
                 ["process"], registry=REGISTRY)
_line_seconds = Histogram(
    "chat_line_seconds", "Server time per line: frame received -> partner's copy handed on",
    ["process"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
_match_seconds = Histogram(
    "chat_find_to_match_seconds", "Time from a socket's find to its matched frame",
    ["process"], registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
_gc_seconds = Histogram(
    "chat_gc_pause_seconds", "Garbage-collector pauses of this process, by generation",
    ["process", "generation"], registry=REGISTRY,
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
# The same pauses in the process's own CPU time: on a loaded machine the wall time of a
# collection also counts the time the process waited for a core, which is not the
# collector's doing (measured: wall 2-4x CPU at a load of 10 on two cores).
_gc_cpu_seconds = Histogram(
    "chat_gc_pause_cpu_seconds", "CPU time of this process's garbage-collector pauses",
    ["process", "generation"], registry=REGISTRY,
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
_searching = Gauge("chat_searching_users", "Users in the matching queue (whole site)",
                   ["process", "mode"], registry=REGISTRY)
_backlog = Gauge("chat_analysis_backlog", "Relayed lines waiting for analysis (whole site)",
                 ["process"], registry=REGISTRY)
_open_reports = Gauge("chat_open_reports", "Reports not yet decided (whole site)",
                      ["process"], registry=REGISTRY)

LINES = _lines.labels(PROCESS)
LINE_SECONDS = _line_seconds.labels(PROCESS)
MATCH_SECONDS = _match_seconds.labels(PROCESS)


class SocketCollector(Collector):
    """This process's sockets by state, counted when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("chat_sockets", "Live sockets of this process by state",
                                   labels=["process", "state"])
        counts = {"idle": 0, "searching": 0, "in_conversation": 0}
        for consumer in lifecycle.live_sockets():
            state = ("in_conversation" if getattr(consumer, "conversation", None) else
                     "searching" if getattr(consumer, "searching", None) else "idle")
            counts[state] += 1
        for state, count in counts.items():
            family.add_metric([PROCESS, state], count)
        yield family


class FrozenCollector(Collector):
    """Objects gc.freeze() took out of the collector's walk (0: start-up froze nothing)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("chat_gc_frozen_objects",
                                   "Objects in the permanent generation (gc.freeze)",
                                   labels=["process"])
        family.add_metric([PROCESS], gc.get_freeze_count())
        yield family


REGISTRY.register(SocketCollector())
REGISTRY.register(FrozenCollector())


def observe_line(seconds: float) -> None:
    LINES.inc()
    LINE_SECONDS.observe(seconds)


def observe_match(seconds: float) -> None:
    MATCH_SECONDS.observe(seconds)


def watch_gc() -> None:
    """Time every garbage collection of this process (a pause of the whole event loop)."""
    children = [_gc_seconds.labels(PROCESS, str(generation)) for generation in range(3)]
    cpu_children = [_gc_cpu_seconds.labels(PROCESS, str(generation)) for generation in range(3)]
    started = [0.0, 0.0]  # wall, CPU (the collector runs in the thread that allocated)

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0], started[1] = time.perf_counter(), time.thread_time()
        else:
            generation = info["generation"]
            children[generation].observe(time.perf_counter() - started[0])
            cpu_children[generation].observe(time.thread_time() - started[1])

    gc.callbacks.append(on_gc)


def allowed(request: HttpRequest) -> bool:
    """A scraper with the token, or one at an allowed address (the direct peer: a scraper
    reaches each process itself, never through the public proxy)."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    return address_allowed(request.META.get("REMOTE_ADDR", ""),
                           settings.METRICS_ALLOWED_ADDRESSES)


def address_allowed(address: str, networks: Iterable[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def open_reports() -> int:
    return Report.objects.filter(status=Report.Status.OPEN).count()


async def read_site_figures() -> None:
    """The figures of the whole site, read fresh for this scrape."""
    matcher = get_matcher()
    for mode in MODES:
        _searching.labels(PROCESS, mode).set(await matcher.waiting_count(mode))
    if settings.REDIS_URL:
        _backlog.labels(PROCESS).set(await get_redis(settings.REDIS_URL).llen(PENDING_KEY))
    _open_reports.labels(PROCESS).set(await sync_to_async(open_reports)())


async def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        raise Http404
    await read_site_figures()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
