"""Run by tests/test_fork_server.py through the fork server, as `python -m tests.fork_probe`:
says what it was started with, then exits with the code it is given or waits for a signal."""
from __future__ import annotations

import atexit
import os
import sys
import time


def main() -> None:
    print(f"argv={sys.argv[1:]} cwd={os.getcwd()} probe={os.environ.get('PROBE')} "
          f"main={__name__} path0={sys.path[0]}", flush=True)
    atexit.register(print, "atexit ran")
    print("unflushed at exit")  # the child flushes its streams as the interpreter would
    if sys.argv[1] == "wait":
        time.sleep(60)
    sys.exit(int(sys.argv[1]))


if __name__ == "__main__":
    main()
