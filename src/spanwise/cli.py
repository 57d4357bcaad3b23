"""The `spanwise` command: `serve` first; `config validate` checks a config file; `demo`
runs a living AI system against the platform."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from spanwise import __version__, cli_baseline
from spanwise.demo import cli as cli_demo
from spanwise.errors import ConfigError

#: Top-level modules that only `pip install "spanwise[server]"` brings.
SERVER_MODULES = {"chdb", "ptars", "pyarrow", "numpy", "uvicorn", "uvloop", "starlette", "orjson", "yaml", "scipy",
                  "grpc", "google"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanwise", description="AI observability on OpenTelemetry traces.")
    parser.add_argument("--version", action="version", version=f"spanwise {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run receivers, store and query API/UI in one process")
    serve.add_argument("--data-dir", help="store directory (default ./spanwise-data)")
    serve.add_argument("--store", help="store URL: chdb:///path (default: chdb://<data-dir>)")
    serve.add_argument("--config", help="YAML config file")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; any other needs --auth or "
                       "--allow-unauthenticated)")
    serve.add_argument("--auth", action="store_true", default=None, help="require tokens (auth.enabled: true)")
    serve.add_argument("--allow-unauthenticated", action="store_true", default=None,
                       help="listen beyond loopback without auth, on a trusted network only")
    serve.add_argument("--grpc-port", type=int, help="OTLP/gRPC port (default 4317)")
    serve.add_argument("--http-port", type=int, help="OTLP/HTTP port (default 4318)")
    serve.add_argument("--query-port", type=int, help="query API and UI port (default 16686)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default info")
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    validate = config_commands.add_parser("validate", help="check a config file and report its errors")
    validate.add_argument("file")
    _export_parser(commands)
    cli_baseline.add_parser(commands)
    cli_demo.add_parser(commands)
    return parser


def _export_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="a model's predictions with labels to Parquet, from a running server")
    export.add_argument("model")
    export.add_argument("--version", dest="model_version", help="one model version (default: all)")
    export.add_argument("--start", help="Unix ns or ISO 8601 (default: the beginning)")
    export.add_argument("--end", help="Unix ns or ISO 8601 (default: now)")
    export.add_argument("--limit", type=int, help="at most this many rows (server default 100000)")
    export.add_argument("-o", "--output", required=True, help="Parquet file to write")
    export.add_argument("--url", default="http://localhost:16686", help="the server's query API (default %(default)s)")


def _export(args: argparse.Namespace) -> int:
    from spanwise.client import SpanwiseClient, SpanwiseClientError

    try:
        data = SpanwiseClient(args.url).predictions_parquet(args.model, args.model_version, args.start, args.end, args.limit)
    except (SpanwiseClientError, ValueError) as exc:
        print(f"spanwise: error: {exc}", file=sys.stderr)
        return 1
    with open(args.output, "wb") as out:
        out.write(data)
    import pyarrow.parquet as pq

    print(f"{args.output}: {pq.read_metadata(args.output).num_rows} predictions")
    return 0


def _server_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("data_dir", "store", "host", "grpc_port", "http_port", "query_port", "log_level", "allow_unauthenticated")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _serve(args: argparse.Namespace) -> int:
    from spanwise.config import load_config
    from spanwise.serve.runtime import SpanwiseServer

    auth = {"enabled": True} if args.auth else {}
    config = load_config(args.config, overrides={"server": _server_overrides(args), "auth": auth})
    logging.basicConfig(
        level=config.server.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(SpanwiseServer(config).run())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"spanwise: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_MODULES:
            raise
        print(f"spanwise: error: `spanwise {args.command}` needs the server's dependencies ({exc.name} is missing): "
              "pip install 'spanwise[server]'", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "export":
        return _export(args)
    if args.command == "baseline":
        return cli_baseline.run(args)
    if args.command == "demo":
        return cli_demo.run(args)
    from spanwise.config import load_config
    from spanwise.config.check import config_warnings

    warnings = config_warnings(load_config(args.file, environ={}))
    for warning in warnings:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    print(f"{args.file}: OK" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
