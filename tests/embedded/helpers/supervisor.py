"""A supervisor that gets SIGKILLed by the tests. Usage: supervisor.py MODE DIR [DATA_DIR].

Modes: ``sleep`` (a ChildProcess running sleep), ``postgres`` (EmbeddedPostgres on DATA_DIR, default
DIR/pg), ``redis`` (EmbeddedRedis on DIR/redis). Writes the started pid to DIR/child.pid, then waits
forever.
"""

import sys
import time
from pathlib import Path

from servers.embedded.child_process import ChildProcess
from servers.embedded.postgres import EmbeddedPostgres
from servers.embedded.redis import EmbeddedRedis


def main() -> None:
    mode, directory = sys.argv[1], Path(sys.argv[2])
    data_dir = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    if mode == "sleep":
        child = ChildProcess("sleep", ["sleep", "60"])
        child.start()
        pid = child.pid
    elif mode == "postgres":
        pg = EmbeddedPostgres(data_dir or directory / "pg")
        pg.start()
        pid = pg.process.pid if pg.process else None
    elif mode == "redis":
        redis = EmbeddedRedis(directory / "redis")
        redis.start()
        pid = redis.process.pid if redis.process else None
    else:
        raise SystemExit(f"unknown mode {mode}")
    tmp = directory / "child.pid.tmp"
    tmp.write_text(str(pid))
    tmp.rename(directory / "child.pid")
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
