"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). Its one
known defect:

(n) IT DIES MID-RUN. On its 41st chat request (`SFGW_DIE_AFTER`, default 40 served) the process
ends with exit status 137, as one the kernel's out-of-memory killer stops does (128 + SIGKILL,
what a shell reports). Every request after it is refused: nothing listens any more.

Everything else is done right, as in the other stdlib samples.

Usage: SFGW_DIE_AFTER=40 python dying_stdlib.py --port 8012 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import os
import threading
from typing import Any

import models_api as api
import stdlib_gateway as stdlib

KILLED = 137


class Handler(stdlib.Handler):
    served = 0
    lock = threading.Lock()

    def complete(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The defect: past its allowance of requests, the whole process is gone at once."""
        with Handler.lock:
            Handler.served += 1
            if Handler.served > int(os.environ.get("SFGW_DIE_AFTER", "40")):
                os._exit(KILLED)
        return super().complete(asked, model)


def main() -> None:
    stdlib.serve(stdlib.Gateway(api.load_settings("dying-stdlib")), Handler)


if __name__ == "__main__":
    main()
