"""Who asks, for which project, until when: one value from the edge to the store.

The edges (HTTP middleware, the gRPC receiver, each background job) set it; the store
reads it in one place (`store.clickhouse.store`) to scope every read to the project and to stamp
the project on every row it writes. It travels as a `contextvars` variable, the way
OpenTelemetry's own context does, so the services between edge and store need no extra
argument; `asyncio.to_thread` and Starlette's thread pool copy it, and the store's own
pool copies it explicitly (`run_in_context`).

Fail closed: reading the context where no edge set one raises, so a new path that forgot
to say whose request it serves is an error in the tests, never a read of every project.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

#: Where every row lives when auth is off, and where rows from older builds are.
DEFAULT_PROJECT = "default"

T = TypeVar("T")


@dataclass(frozen=True)
class RequestContext:
    """`project` None means every project: only the platform's own jobs (ingest-log flushing,
    the feedback resolver, listing projects) act so, never a request."""

    project: str | None
    principal: str = "anonymous"
    #: `time.monotonic()` by which the work should end (None: the store's own limit).
    deadline: float | None = None

    def remaining_s(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


class NoRequestContext(Exception):
    """The store was reached by a path that never said for whom; a bug, not a user error."""


_CURRENT: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("spanwise_request_context")

#: The platform's own work across all projects.
SYSTEM = RequestContext(project=None, principal="system")


def current() -> RequestContext:
    """The context the edge set; raises `NoRequestContext` where none was set."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise NoRequestContext("no request context: set one at the edge with request_context.acting()") from None


def current_project() -> str:
    """The one project the current work is for; raises where it is for every project."""
    project = current().project
    if project is None:
        raise NoRequestContext("this work needs one project, but runs for every project")
    return project


@contextmanager
def acting(context: RequestContext) -> Iterator[RequestContext]:
    """Run the block as `context` (restored afterwards, also on error)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def for_project(project: str, principal: str = "system") -> RequestContext:
    """A background job's context for one project's work."""
    return RequestContext(project=project, principal=principal)


def run_in_context(func: Callable[..., T]) -> Callable[..., T]:
    """`func` bound to a copy of the caller's context, for a thread pool that does not copy it."""
    context = contextvars.copy_context()

    def bound(*args: Any, **kwargs: Any) -> T:
        return context.run(func, *args, **kwargs)

    return bound
