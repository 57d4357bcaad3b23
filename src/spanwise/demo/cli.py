"""The `spanwise demo` subcommand's arguments (importing this module stays cheap: the
demo's own imports, scikit-learn among them, happen when it runs)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    demo = commands.add_parser("demo", help="start the platform (or use a running one) and a living AI system sending traffic")
    demo.add_argument("--duration", type=float, default=60.0, help="seconds of live traffic (default %(default)s)")
    demo.add_argument("--rate", type=float, default=20.0, help="frontend requests per second (default %(default)s)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default %(default)s)")
    demo.add_argument("--no-backfill", action="store_true", help="skip the 7 days of history")
    demo.add_argument("--backfill-requests", type=int, default=12_000, help="requests in the 7-day history (default %(default)s)")
    demo.add_argument("--endpoint", default="http://localhost:4318", help="OTLP/HTTP endpoint (default %(default)s)")
    demo.add_argument("--api", default="http://localhost:16686", help="the query API; used if it answers, else a server is started there (default %(default)s)")
    demo.add_argument("--data-dir", default="./spanwise-demo-data", help="data directory of a started server (default %(default)s)")
    demo.add_argument("--keep-running", action="store_true", help="keep a started server running after the traffic ends (Ctrl-C stops)")


def run(args: argparse.Namespace) -> int:
    try:
        from spanwise.demo.runner import DemoOptions
        from spanwise.demo.runner import run as run_demo
    except ImportError as exc:
        print(f"spanwise: error: the demo needs scikit-learn and the OpenTelemetry SDK: pip install 'spanwise[demo]' ({exc})",
              file=sys.stderr)
        return 2
    options = DemoOptions(duration_s=args.duration, rate=args.rate, seed=args.seed, backfill=not args.no_backfill,
                          backfill_requests=args.backfill_requests, endpoint=args.endpoint.rstrip("/"),
                          api_url=args.api.rstrip("/"), data_dir=args.data_dir, keep_running=args.keep_running)
    try:
        run_demo(options)
    except RuntimeError as exc:
        print(f"spanwise: error: {exc}", file=sys.stderr)
        return 1
    return 0
