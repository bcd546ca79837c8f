"""Run many ``synthneg`` command lines in one process and report, per case, exit code and console output.

Used by ``test_cli_malformed.py``: one subprocess for the whole sweep (each case in a fresh interpreter would cost ~4 s
of imports) that still isolates the test session from what the CLI configures globally (logging, environment switches).
Reads a JSON list of ``{"name", "argv"}`` from argv[1]; writes a JSON list of ``{"name", "rc", "stderr", "error"}``
to argv[2], where ``error`` is the traceback of any exception that escaped ``synthneg.cli.main``.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback


def main() -> None:
    spec, result = sys.argv[1], sys.argv[2]
    with open(spec, encoding="utf-8") as fh:
        cases = json.loads(fh.read())
    from synthneg.cli import console
    from synthneg.cli import main as cli_main

    console.width = 400  # one line per message: the test checks lines, not the terminal's wrapping
    results = []
    for case in cases:
        err, out = io.StringIO(), io.StringIO()
        rc: int | str | None = 0
        escaped = None
        started = time.perf_counter()
        sys.argv = ["synthneg", *case["argv"]]
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            console.file = err
            try:
                cli_main()
            except SystemExit as exc:
                rc = exc.code
            except BaseException:  # the point is to catch what escapes
                escaped = traceback.format_exc()
                rc = None
            finally:
                console.file = None  # type: ignore[assignment]
        results.append(
            {
                "name": case["name"],
                "rc": rc,
                "stderr": err.getvalue(),
                "stdout": out.getvalue(),
                "error": escaped,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    with open(result, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
