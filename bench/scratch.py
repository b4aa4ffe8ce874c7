"""A throwaway PostgreSQL database for one benchmark run, dropped however the run ends."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text


@contextlib.contextmanager
def scratch_database(
    admin_url: str,
    *,
    prefix: str = "followup_bench",
    keep: bool = False,
    reuse: str | None = None,
) -> Iterator[str]:
    """Create an empty database beside `admin_url`'s, yield its URL, then drop it.

    `keep` leaves it in place (its name is printed) for a later run's `reuse`, which yields
    that database as it is and neither creates nor drops it.
    """
    base = admin_url.rsplit("/", 1)[0]
    if reuse:
        yield f"{base}/{reuse}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                # A run that failed may leave connections open; DROP refuses while any is.
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
