"""A background thread that calls one function on a fixed period (tail-sampling decisions,
scheduled model signals)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any, Callable

from spanwise.request_context import SYSTEM, acting

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Calls `tick` every `period_s` on a daemon thread; start()/shutdown() are idempotent.
    Ticks run as the platform across projects (`request_context.SYSTEM`).
    A failing tick is logged and counted in `stats["failed_ticks"]`, and the next one runs
    on schedule: a background job must outlive a bad moment of the store."""

    def __init__(self, name: str, tick: Callable[[], Any], period_s: float, stats: Counter[str]) -> None:
        self._name, self._tick, self._period_s, self._stats = name, tick, period_s, stats
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def shutdown(self) -> None:
        """Stop after the running tick (if any) finishes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                with acting(SYSTEM):  # a job that works per project says so inside its tick
                    self._tick()
            except Exception:  # noqa: BLE001 - see the class docstring
                self._stats["failed_ticks"] += 1
                log.exception("%s: tick failed", self._name)
