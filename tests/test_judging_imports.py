"""A judging process loads what judging needs and no more: every parallel replay worker and
the live proxy's judging process pay for each import at start-up."""

from __future__ import annotations

import subprocess
import sys


def test_judging_loads_neither_the_database_layer_nor_mitmproxy():
    code = ("import sys, diagscope.judging; "
            "print(sorted(m for m in ('sqlalchemy', 'alembic', 'mitmproxy') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
