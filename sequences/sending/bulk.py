"""Multi-row INSERTs and UPDATEs of one fixed shape: arrays through unnest() on PostgreSQL.

A batch of sends writes tens of rows to a table at a time. SQLAlchemy's executemany renders a
VALUES list as long as the batch, which the driver then parses again, and the server plans
anew for every batch size. Here each column travels as one array parameter instead, so the
statement text is the same whatever the number of rows: the driver caches its conversion, the
server prepares it once per connection, and the values are dumped column by column. Other
databases (SQLite) get the plain executemany with the same result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Connection, Enum, String, Table, bindparam, insert, update
from sqlalchemy.engine import Dialect


@lru_cache(maxsize=256)
def _bind_processor(table: Table, name: str, dialect: Dialect) -> Any:
    column_type = table.c[name].type
    process: Any = column_type.bind_processor(dialect)
    if process is None and isinstance(column_type, JSON):
        # psycopg's dialect leaves JSON to a driver adapter, which does not reach into arrays:
        # the text SQLAlchemy would send, cast to json by the statement.
        process = getattr(dialect, "_json_serializer", None) or json.dumps
    return process


@lru_cache(maxsize=64)
def _array_type(table: Table, name: str, dialect: Dialect) -> str:
    column_type = table.c[name].type
    if isinstance(column_type, String) and not isinstance(column_type, Enum):
        # Not VARCHAR(n)[]: an explicit cast would cut a value that is too long, silently;
        # text goes into the column by assignment, which refuses it as a plain INSERT does.
        return "TEXT[]"
    return f"{column_type.compile(dialect=dialect)}[]"


def _arrays(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> dict[str, list[Any]]:
    """One list per column, each value as the column's type binds it (UTC datetimes, JSON)."""
    dialect = conn.dialect
    arrays: dict[str, list[Any]] = {}
    for name in names:
        process = _bind_processor(table, name, dialect)
        values = [row[name] for row in rows]
        arrays[name] = [process(v) for v in values] if process is not None else values
    return arrays


@lru_cache(maxsize=64)
def _insert_sql(
    table: Table, names: tuple[str, ...], returning: tuple[str, ...], dialect: Dialect
) -> str:
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(f"%({name})s::{_array_type(table, name, dialect)}" for name in names)
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT * FROM unnest({arrays})"
    )
    if returning:
        sql += " RETURNING " + ", ".join(quote(n) for n in returning)
    return sql


def _default(column: Column[Any]) -> Any:
    default: Any = column.default
    return default.arg(None) if default.is_callable else default.arg


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """Insert rows that all have the same keys; return the `returning` columns of each row
    inserted, in no particular order (match them to the rows by a key among them).

    Python-side column defaults fill the columns the rows leave out, as SQLAlchemy would.
    """
    if not rows:
        return []
    names = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        missing = [c for c in table.columns if c.default is not None and c.key not in names]
        if missing:  # what SQLAlchemy's INSERT would add: Python-side defaults
            rows = [{**row, **{c.key: _default(c) for c in missing}} for row in rows]
            names = tuple(rows[0])
        sql = _insert_sql(table, names, returning, conn.dialect)
        result = conn.exec_driver_sql(sql, _arrays(conn, table, rows, names))
        return [tuple(row) for row in result] if returning else []
    statement = insert(table)
    if returning:
        statement = statement.returning(*(table.c[n] for n in returning))
        return [tuple(row) for row in conn.execute(statement, list(rows))]
    conn.execute(statement, list(rows))
    return []


@lru_cache(maxsize=64)
def _update_sql(
    table: Table, key: str, names: tuple[str, ...], constants: tuple[str, ...], dialect: Dialect
) -> str:
    quote = dialect.identifier_preparer.quote
    columns = (key, *names)
    arrays = ", ".join(f"%({name})s::{_array_type(table, name, dialect)}" for name in columns)
    assignments = [f"{quote(n)} = v.{quote(n)}" for n in names]
    assignments += [f"{quote(n)} = %(const_{n})s" for n in constants]
    return (
        f"UPDATE {quote(table.name)} SET {', '.join(assignments)} "
        f"FROM unnest({arrays}) AS v({', '.join(quote(n) for n in columns)}) "
        f"WHERE {quote(table.name)}.{quote(key)} = v.{quote(key)}"
    )


def update_rows(
    conn: Connection,
    table: Table,
    key: str,
    rows: Sequence[Mapping[str, Any]],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Update each row found by its `key` column with its own values (every row has the same
    keys) and the `constants` (the same for all rows), plus the columns' Python-side onupdate
    values as SQLAlchemy would add them."""
    if not rows:
        return
    constants = dict(constants or {})
    names = tuple(n for n in rows[0] if n != key)
    for column in table.columns:  # what SQLAlchemy's UPDATE would add: Python-side onupdate
        onupdate = column.onupdate
        if onupdate is None or column.key in names or column.key in constants:
            continue
        if onupdate.is_callable:
            constants[column.key] = onupdate.arg(None)  # type: ignore[attr-defined]
        elif onupdate.is_scalar:
            constants[column.key] = onupdate.arg  # type: ignore[attr-defined]
    if conn.dialect.name == "postgresql":
        sql = _update_sql(table, key, names, tuple(constants), conn.dialect)
        params = _arrays(conn, table, rows, (key, *names))
        for name, value in constants.items():
            process = _bind_processor(table, name, conn.dialect)
            params[f"const_{name}"] = process(value) if process is not None else value
        conn.exec_driver_sql(sql, params)
        return
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({**{n: bindparam(f"b_{n}") for n in names}, **constants})
    )
    conn.execute(statement, [{f"b_{n}": row[n] for n in (key, *names)} for row in rows])
