"""`gainsight-px emulator`: serve a synthetic Gainsight PX tenant on a local port.

Runs in the foreground until Ctrl-C or SIGTERM (exit 0). Prints the base URL,
the keys, the control URL and an `export` line for the source's config.
"""

from __future__ import annotations

import argparse
import errno
import shlex
import signal
import threading
import time
from typing import Any

from gainsight_px.endpoints import DIALECTS
from gainsight_px.errors import ConfigError
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, EMULATOR_API_KEY, EMULATOR_READ_ONLY_KEY

DEFAULT_PORT = 8765


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "emulator",
        help="run a local Gainsight PX emulator (synthetic tenant, real HTTP)",
        description="Serve a synthetic Gainsight PX tenant that follows the API contract. "
                    "Ctrl-C stops it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--users", type=int, default=1000, help="number of users (default: %(default)s)")
    p.add_argument("--accounts", type=int, default=None, help="number of accounts (default: users/10)")
    p.add_argument("--features", type=int, default=40, help="number of features (default: %(default)s)")
    p.add_argument("--engagements", type=int, default=30, help="number of engagements (default: %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="random seed of the tenant (default: %(default)s)")
    p.add_argument("--rate-limit", type=float, default=None, metavar="R",
                   help="requests per second before 429 (default: unlimited)")
    p.add_argument("--no-retry-after", action="store_true", help="send 429 without a Retry-After header")
    p.add_argument("--api-key", default=EMULATOR_API_KEY, help="the read-write key (default: %(default)s)")
    p.add_argument("--read-only-key", default=EMULATOR_READ_ONLY_KEY,
                   help="a key that gets 403 on writes (default: %(default)s)")
    p.add_argument("--scroll-ttl", type=float, default=60.0, metavar="S",
                   help="idle seconds before a scroll expires (default: %(default)s)")
    p.add_argument("--rotate-scroll-ids", action="store_true",
                   help="answer a new scrollId on every page (the API may or may not)")
    p.add_argument("--dialect", default="contract", choices=sorted(DIALECTS),
                   help="which API to speak: contract (the seed OpenAPI contract) or published "
                        "(Gainsight's published REST API, as live tenants do) (default: %(default)s)")
    p.add_argument("--events-per-day", type=int, default=500, metavar="N",
                   help="published dialect: events a day across the event streams (default: %(default)s)")
    p.add_argument("--event-days", type=int, default=90, metavar="D",
                   help="published dialect: days of event history before now (default: %(default)s)")
    p.set_defaults(run=run)
    return p


def _start(emu: Any, host: str, port: int) -> None:
    """Start serving; a port that cannot be bound is a one-line error, not a traceback."""
    try:
        emu.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (another emulator?): stop that "
                              "process, or pass --port 0 to pick a free port.") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"not allowed to listen on port {port} on {host}: ports below 1024 need "
                              "privileges; pass a port above 1024, or --port 0 to pick a free one.") from None
        raise


def run(args: argparse.Namespace) -> int:
    from gainsight_px.emulator import Emulator, TenantSpec
    from gainsight_px.emulator.events import EventSpec
    from gainsight_px.emulator.tenant import PRODUCT_KEY

    spec = TenantSpec(users=args.users, accounts=args.accounts, features=args.features,
                      engagements=args.engagements, seed=args.seed)
    print(f"Generating a tenant of {spec.users} users and {spec.account_count} accounts (seed {spec.seed})...",
          flush=True)
    t0 = time.monotonic()
    emu = Emulator(tenant=spec, api_key=args.api_key, read_only_key=args.read_only_key,
                   rate_limit=args.rate_limit, retry_after=not args.no_retry_after,
                   scroll_ttl=args.scroll_ttl, host=args.host, port=args.port,
                   rotate_scroll_ids=args.rotate_scroll_ids, dialect=DIALECTS[args.dialect],
                   events=EventSpec(per_day=args.events_per_day, days=args.event_days))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _start(emu, args.host, args.port)
        limit = f"{args.rate_limit:g} requests/s" if args.rate_limit else "unlimited"
        print(
            f"Gainsight PX emulator ready in {time.monotonic() - t0:.1f}s (rate limit: {limit}, "
            f"dialect: {args.dialect})\n"
            f"  base URL:      {emu.base_url}\n"
            f"  API key:       {args.api_key}\n"
            f"  read-only key: {args.read_only_key}\n"
            f"  control URL:   {emu.control_url}\n"
            + (f"  product key:   {PRODUCT_KEY} (propertyKeys / propertyKey on writes)\n"
               if emu.dialect.name != "contract" else "") +
            f"Use it with:\n"
            f"  export {BASE_URL_ENV}={shlex.quote(emu.base_url)} {API_KEY_ENV}={shlex.quote(args.api_key)}\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        emu.stop()
    print("Emulator stopped.", flush=True)
    return 0
