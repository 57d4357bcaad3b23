"""`spanwise baseline upload FILE --model M --version V`: post a training file (Parquet or
CSV) to a running server, which stores its profile. Never opens the store (the server
owns it)."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from typing import Any

from spanwise import api_http

_TYPES = {".parquet": "application/vnd.apache.parquet", ".pq": "application/vnd.apache.parquet", ".csv": "text/csv"}


def add_parser(commands: Any) -> None:
    baseline = commands.add_parser("baseline", help="reference baselines for drift, on a running server")
    sub = baseline.add_subparsers(dest="baseline_command", required=True)
    upload = sub.add_parser("upload", help="upload a training file (Parquet or CSV) as a model version's baseline")
    upload.add_argument("file")
    upload.add_argument("--model", required=True)
    upload.add_argument("--version", dest="model_version", default="", help="model version (default: every version)")
    upload.add_argument("--name", default="training", help="baseline name (default %(default)s)")
    upload.add_argument("--format", choices=["parquet", "csv"], help="default: from the file name")
    upload.add_argument("--url", default="http://localhost:16686", help="the server's query API (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    suffix = "." + args.format if args.format else "." + args.file.rsplit(".", 1)[-1].lower()
    content_type = _TYPES.get(".parquet" if suffix == ".pq" else suffix)
    if content_type is None:
        print("spanwise: error: cannot tell the file's format: use --format parquet|csv", file=sys.stderr)
        return 2
    with open(args.file, "rb") as source:
        body = source.read()
    query = urllib.parse.urlencode({"version": args.model_version, "name": args.name})
    url = f"{args.url.rstrip('/')}/api/v1/models/{urllib.parse.quote(args.model, safe='')}/baselines?{query}"
    try:
        found = api_http.post(url, body, content_type, timeout=300)
    except api_http.ApiFailure as exc:
        problem = f"cannot reach {args.url}: {exc.reason}" if exc.status is None else (
            f"{exc.status}: {exc.body.decode(errors='replace')}")
        print(f"spanwise: error: {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: baseline {found['name']!r} of {args.model} {args.model_version or '(every version)'}: "
          f"{found.get('rows')} rows, {len(found.get('numeric', []))} numeric and "
          f"{len(found.get('categorical', []))} categorical columns")
    return 0
