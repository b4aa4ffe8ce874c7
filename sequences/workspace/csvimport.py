"""Enroll prospects from a CSV file: create or update each prospect, enroll it, say why if not."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ..enroll_checks import NEEDS_FORCE, WOULD_ENROLL, checked_enroll
from ..errors import Conflict, ValidationError
from ..models import Sequence
from .prospects import TEXT_FIELDS, upsert_prospect

COLUMNS = {"email", "timezone", *TEXT_FIELDS}
# Headers people actually write, mapped to ours.
ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "firstname": "first_name",
    "first": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "organisation": "company",
    "organization": "company",
    "phone_number": "phone",
    "tz": "timezone",
    "time_zone": "timezone",
}


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    enrolled: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (line, email, reason)

    def reasons(self) -> dict[str, int]:
        """Skipped rows counted by reason, with the enrollment ids left out."""
        counts: dict[str, int] = {}
        for _, _, reason in self.skipped:
            key = reason.split(" (enrollment")[0]
            counts[key] = counts.get(key, 0) + 1
        return counts


def _header(name: str) -> str:
    key = "_".join(name.strip().lower().replace("-", " ").split())
    return ALIASES.get(key, key)


def row_to_prospect(row: dict[str, str]) -> dict[str, object]:
    """Known columns become prospect attributes; every other non-empty column a custom field."""
    data: dict[str, object] = {}
    fields: dict[str, object] = {}
    for raw_key, raw_value in row.items():
        if raw_key is None:  # more cells than headers
            continue
        key = _header(raw_key)
        value = (raw_value or "").strip() if isinstance(raw_value, str) else ""
        if not key or not value:
            continue
        if key in COLUMNS:
            data[key] = value
        else:
            fields[key] = value
    if fields:
        data["fields"] = fields
    return data


def enroll_csv(
    session: Session,
    lines: Iterable[str],
    sequence: Sequence,
    now: datetime,
    *,
    owner_id: int | None = None,
    force: bool = False,
    dry_run: bool = False,
    on_row: Callable[[], object] | None = None,
) -> ImportSummary:
    """Each row in its own savepoint: a bad row is skipped with its reason, the rest go on.

    Every enrollment is checked first (sequences/enroll_checks.py). With `dry_run` nobody is
    enrolled and `enrolled` counts who would be; the caller rolls the prospects' changes back.
    """
    summary = ImportSummary()
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or "email" not in {_header(h) for h in reader.fieldnames}:
        raise ValidationError("the CSV needs a header row with an email column", field="email")
    for row in reader:
        line = reader.line_num
        data = row_to_prospect(row)
        email = str(data.get("email", ""))
        try:
            with session.begin_nested():
                prospect, created = upsert_prospect(
                    session, sequence.team_id, data, now, owner_id=owner_id
                )
        except (ValidationError, Conflict) as exc:
            summary.skipped.append((line, email, f"row: {exc}"))
        else:
            if created:
                summary.created += 1
            else:
                summary.updated += 1
            attempt = checked_enroll(session, prospect, sequence, now, force=force, dry_run=dry_run)
            if (
                attempt.enrolled
                or (dry_run and attempt.verdict.outcome == WOULD_ENROLL)
                or (dry_run and force and attempt.verdict.outcome == NEEDS_FORCE)
            ):
                summary.enrolled += 1
            else:
                summary.skipped.append((line, prospect.email, attempt.verdict.why))
        if on_row is not None:
            on_row()
    return summary
