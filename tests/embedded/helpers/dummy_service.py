"""Stand-in for ``python -m servers.cli serve <name>``: a TCP listener on GRPC_HOST:GRPC_PORT.

Usage: dummy_service.py NAME [serve|exit|die-soon|ignore-term]. Writes the env vars it got to
$DUMMY_OUT/NAME.json when DUMMY_OUT is set; exits 0 on SIGTERM (like the real servers).
"""

import json
import os
import signal
import socket
import sys
import time

KEYS = (
    "GRPC_HOST",
    "GRPC_PORT",
    "DATABASE_URL",
    "REDIS_URL",
    "AETHER_SECRET_KEY",
    "AUTH_ADDR",
    "LOG_LEVEL",
    "HEALTH_TARGETS",
)


def main() -> int:
    name = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "serve"
    out = os.environ.get("DUMMY_OUT")
    if out:
        with open(os.path.join(out, f"{name}.json"), "w") as fh:
            json.dump({key: os.environ.get(key) for key in KEYS}, fh)
    if mode == "exit":
        return 3
    server = socket.create_server((os.environ["GRPC_HOST"], int(os.environ["GRPC_PORT"])))
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    started = time.monotonic()
    server.settimeout(0.2)
    while True:
        if mode == "die-soon" and time.monotonic() - started > 0.3:
            return 4
        try:
            conn, _ = server.accept()
            conn.close()
        except TimeoutError:
            pass


if __name__ == "__main__":
    sys.exit(main())
