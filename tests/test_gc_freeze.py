"""GC_FREEZE: a real daphne process freezes its start-up heap, so that full collections (a
pause of the whole event loop) do not walk it again; GC_FREEZE=false leaves it to them."""
from __future__ import annotations

from typing import Any

import pytest

from tests.test_metrics import TOKEN, scrape

pytestmark = pytest.mark.e2e


def test_daphne_freezes_its_start_up_heap_unless_told_not_to(start_server: Any) -> None:
    frozen = scrape(start_server(METRICS_TOKEN=TOKEN).url)[("chat_gc_frozen_objects", ())]
    # Django, the apps, the URL resolvers and the filter's word lists: well over 100,000.
    assert frozen > 100_000
    off = scrape(start_server(METRICS_TOKEN=TOKEN, GC_FREEZE="false").url)
    assert off[("chat_gc_frozen_objects", ())] == 0
    assert ("chat_gc_pause_cpu_seconds_count", (("generation", "2"),)) in off
