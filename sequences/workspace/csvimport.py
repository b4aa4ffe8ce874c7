"""Enroll prospects from a CSV file: read any spreadsheet export, then report every row's fate."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..enroll_checks import (
    NEEDS_FORCE,
    WOULD_ENROLL,
    History,
    Verdict,
    checked_enroll,
    load_histories,
    recontact_days,
)
from ..errors import Conflict, ValidationError
from ..models import Prospect, Sequence
from .prospects import TEXT_FIELDS, clean_prospect_data, normalise_email, upsert_prospect

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
DELIMITERS = (",", ";", "\t")  # Excel writes ";" where "," is the decimal separator
# Magic numbers of files people upload by mistake: xlsx/zip, xls, pdf, png, jpeg, gzip.
_BINARY = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"\x1f\x8b")

# Why a row was skipped, in the order the report lists the groups.
BAD_ADDRESS = "bad address"
DUPLICATE = "duplicate address in this file"
SHORT_ROW = "short row"
EXTRA_CELLS = "extra cells"
BAD_VALUE = "bad value"
NOT_YOURS = "another rep's prospect"
RECENT = "recently in touch (enroll anyway with --force)"
LEFT_AS_IS = "already in this sequence, left as is (--force never restarts a file's rows)"
REFUSED = "not enrolled"


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


@dataclass(frozen=True)
class Skip:
    """One row left out: where (row, and column when one cell is the cause), why, the detail."""

    row: int
    email: str
    kind: str
    detail: str
    column: str | None = None

    @property
    def where(self) -> str:
        return f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"


@dataclass
class Table:
    """A decoded CSV: its header, its rows with their line numbers, and how it was read."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do), row by row."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    enrolled: int = 0
    already_enrolled: int = 0
    skipped: list[Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the file: encoding, columns ignored
    # Recently in touch: (row, prospect name, verdict), for a page that offers to confirm.
    confirm: list[tuple[int, Prospect, Verdict]] = field(default_factory=list)
    # Enrolled with --force over a recent touch: (row, email, what was overridden).
    forced: list[tuple[int, str, str]] = field(default_factory=list)
    dry_run: bool = False

    def groups(self) -> list[tuple[str, list[Skip]]]:
        """Skipped rows grouped by reason, the biggest group first, rows in file order."""
        by_kind: dict[str, list[Skip]] = {}
        for skip in self.skipped:
            by_kind.setdefault(skip.kind, []).append(skip)
        return sorted(by_kind.items(), key=lambda kv: -len(kv[1]))

    @property
    def nothing_changed(self) -> bool:
        """True when the file had been imported already: no prospect or enrollment is new."""
        return self.rows > 0 and not (self.created or self.updated or self.enrolled)

    def lines(self) -> list[str]:
        """The report as a rep reads it: the counts, then each group of skips, then the notes."""
        would = "would " if self.dry_run else ""
        counts = (
            f"{would}create {self.created}, update {self.updated}, enroll {self.enrolled}"
            if self.dry_run
            else f"created {self.created}, updated {self.updated}, enrolled {self.enrolled}"
        )
        out = [
            ("dry run, nothing changed: " if self.dry_run else "")
            + f"{counts}, skipped {len(self.skipped)} of {self.rows} row{'' if self.rows == 1 else 's'}"
            + f" ({self.unchanged} unchanged, {self.already_enrolled} already enrolled)"
        ]
        if self.nothing_changed and not self.dry_run:
            out.append("nothing changed: every row was imported before")
        if self.forced:
            out.append(f"enrolled with --force {len(self.forced)}:")
            out.extend(f"  row {row}: {email}, {why}" for row, email, why in self.forced)
        for kind, skips in self.groups():
            out.append(f"skipped {len(skips)}: {kind}")
            out.extend(f"  {s.where}: {s.email + ', ' if s.email else ''}{s.detail}" for s in skips)
        out.extend(f"note: {note}" for note in self.notes)
        return out


def _decode(raw: bytes) -> tuple[str, str | None]:
    """The text, and a note when it was not UTF-8. Spreadsheets write UTF-16 ("Unicode text"),
    UTF-8 with a BOM, or the Windows code page; cp1252 reads any Western European export."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "read as UTF-16"
        except UnicodeDecodeError:
            raise ValidationError(
                "not a CSV file: it starts like UTF-16 text but is not; save it as CSV UTF-8",
                field="file",
            ) from None
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "read as Windows-1252 (cp1252), not UTF-8"
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined: Latin-1 has them
        return raw.decode("latin-1"), "read as Latin-1 (ISO-8859-1), not UTF-8"


def read_table(raw: bytes, *, max_rows: int | None = None) -> Table:
    """Decode and split a CSV, or raise ValidationError with one line saying what the file is."""
    if not raw.strip():
        raise ValidationError("the file is empty; it needs a header row with an email column")
    if raw.startswith(_BINARY) or (
        b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    ):
        raise ValidationError(
            "not a CSV file (it is binary, e.g. an .xlsx workbook); save it as CSV and try again",
            field="file",
        )
    text, note = _decode(raw)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first.count)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        header = next(reader, [])
        rows: list[tuple[int, list[str]]] = []
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):  # blank lines are not rows
                rows.append((start, cells))
                if max_rows is not None and len(rows) > max_rows:
                    raise ValidationError(f"at most {max_rows} rows per file", field="file")
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationError(
            f"not a CSV file we can read: line {reader.line_num}: {exc}", field="file"
        ) from None
    names = [_header(h) for h in header]
    if "email" not in names:
        found = ", ".join(h.strip() for h in header if h.strip())[:200] or "nothing"
        raise ValidationError(
            f"the first line must name the columns, one of them `email` (found: {found})",
            field="email",
        )
    notes = [note] if note else []
    if delimiter != ",":
        notes.append(f"columns separated by {'tab' if delimiter == chr(9) else repr(delimiter)}")
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if not name:
            notes.append(f"row 1, column {number} has no name: its cells are ignored")
        elif name in seen:
            notes.append(
                f"row 1, column {number} repeats `{name}` (column {seen[name]}): "
                "only the first is read"
            )
        else:
            seen[name] = number
    return Table(header=names, rows=rows, notes=notes)


def _row_data(table: Table, cells: list[str]) -> dict[str, Any]:
    row: dict[str, str] = {}
    for name, value in zip(table.header, cells, strict=False):
        if name and name not in row:
            row[name] = value
    return row_to_prospect(row)


def _differs(prospect: Prospect, data: dict[str, Any]) -> bool:
    values = clean_prospect_data(data)
    for key, value in values.items():
        if key == "fields":
            if any((prospect.fields or {}).get(k) != v for k, v in value.items()):
                return True
        elif value is not None and getattr(prospect, key) != value:
            return True
    return False


def _addresses(table: Table) -> set[str]:
    """Every valid address of the file (rows that will be skipped included: harmless)."""
    out: set[str] = set()
    for _, cells in table.rows:
        try:
            out.add(normalise_email(str(_row_data(table, cells).get("email", ""))))
        except ValidationError:
            continue
    return out


def _existing(session: Session, team_id: int, addresses: set[str]) -> dict[str, Prospect]:
    """The team's prospects with these addresses, by address."""
    ordered = sorted(addresses)
    found: dict[str, Prospect] = {}
    for start in range(0, len(ordered), 1000):  # bound parameters per IN (...) list
        for prospect in session.scalars(
            select(Prospect).where(
                Prospect.team_id == team_id, Prospect.email.in_(ordered[start : start + 1000])
            )
        ):
            found[prospect.email] = prospect
    return found


def _shape(table: Table, number: int, cells: list[str]) -> Skip | None:
    """A row whose cell count differs from the header's: its values have likely shifted."""
    width = len(table.header)
    if len(cells) < width:
        missing = ", ".join(
            n or f"column {i}" for i, n in enumerate(table.header[len(cells) :], len(cells) + 1)
        )
        return Skip(
            number,
            "",
            SHORT_ROW,
            f"{len(cells)} cells where the header names {width} (missing: {missing})",
            str(len(cells) + 1),
        )
    if len(cells) > width:
        return Skip(
            number,
            "",
            EXTRA_CELLS,
            f"{len(cells)} cells where the header names {width} "
            "(an unquoted comma or semicolon in a value?)",
            str(width + 1),
        )
    return None


# Rows whose new prospects are written in one INSERT (one flush) before they are enrolled.
CHUNK = 500


def import_csv(
    session: Session,
    table: Table,
    sequence: Sequence,
    now: datetime,
    *,
    owner_id: int | None = None,
    force: bool = False,
    dry_run: bool = False,
    may_touch: Callable[[Prospect], bool] | None = None,
    on_row: Callable[[], object] | None = None,
) -> ImportReport:
    """Row by row: a bad row is skipped with its reason, the rest go on.

    Within one file the first row of an address wins; a later row for it is skipped as a
    duplicate (merging two rows would guess which value is right). Every enrollment is checked
    first (sequences/enroll_checks.py). With `dry_run` nobody is enrolled and `enrolled` counts
    who would be; the caller rolls the prospects' changes back.

    Why in chunks: one query and one flush per row made 10,000 rows take minutes. What the
    checks read is loaded for the whole file first (the prospects that exist, their touches and
    enrollments); then each chunk of rows is validated and its prospects created or updated,
    flushed at once, and enrolled row by row. The report is the same as row by row: skips are
    listed in file order.
    """
    run = _Import(
        session=session,
        table=table,
        sequence=sequence,
        now=now,
        report=ImportReport(rows=len(table.rows), notes=list(table.notes), dry_run=dry_run),
        email_column=str(table.header.index("email") + 1),
        owner_id=owner_id,
        force=force,
        dry_run=dry_run,
        may_touch=may_touch,
    )
    run.known = _existing(session, sequence.team_id, _addresses(table))
    run.histories = load_histories(session, [p.id for p in run.known.values()], sequence, now)
    run.recontact = recontact_days(session, sequence.team_id)
    for start in range(0, len(table.rows), CHUNK):
        staged: list[tuple[int, Prospect, bool]] = []
        for number, cells in table.rows[start : start + CHUNK]:
            outcome = run.stage(number, cells)
            if isinstance(outcome, Skip):
                run.report.skipped.append(outcome)
            else:
                staged.append((number, *outcome))
        session.flush()  # the chunk's new prospects in one INSERT
        for number, prospect, created in staged:
            skip = run.enroll(number, prospect, created)
            if skip is not None:
                run.report.skipped.append(skip)
        if on_row is not None:
            for _ in table.rows[start : start + CHUNK]:
                on_row()
    run.report.skipped.sort(key=lambda skip: skip.row)  # stable: file order, as row by row
    return run.report


@dataclass
class _Import:
    """One file's import: its settings, what was loaded for it, and the report being written."""

    session: Session
    table: Table
    sequence: Sequence
    now: datetime
    report: ImportReport
    email_column: str
    owner_id: int | None
    force: bool
    dry_run: bool
    may_touch: Callable[[Prospect], bool] | None
    first_row: dict[str, int] = field(default_factory=dict)
    known: dict[str, Prospect] = field(default_factory=dict)
    histories: dict[int, History] = field(default_factory=dict)
    recontact: int = 0

    def stage(self, number: int, cells: list[str]) -> Skip | tuple[Prospect, bool]:
        """A row's prospect created (not flushed yet) or updated: (prospect, created), or its skip."""
        table, report = self.table, self.report
        for column, (name, value) in enumerate(zip(table.header, cells, strict=False), start=1):
            if not name and value.strip():
                report.notes.append(
                    f"row {number}, column {column}: `{value.strip()[:40]}` ignored (the column has no name)"
                )
        shape = _shape(table, number, cells)
        data = _row_data(table, cells)
        raw_email = str(data.get("email", ""))
        if shape is not None:
            return Skip(shape.row, raw_email, shape.kind, shape.detail, shape.column)
        try:
            address = normalise_email(raw_email)
        except ValidationError:
            shown = f"`{raw_email}`" if raw_email else "an empty cell"
            return Skip(
                number,
                "",
                BAD_ADDRESS,
                f"{shown} is not a valid email address",
                f"{self.email_column} (email)",
            )
        if address in self.first_row:
            return Skip(
                number,
                address,
                DUPLICATE,
                f"the same address as row {self.first_row[address]} (the first row wins)",
                f"{self.email_column} (email)",
            )
        self.first_row[address] = number
        data["email"] = address
        existing = self.known.get(address)
        if existing is not None and self.may_touch is not None and not self.may_touch(existing):
            return Skip(
                number, address, NOT_YOURS, "belongs to another rep: neither changed nor enrolled"
            )
        try:
            changed = existing is None or _differs(existing, data)
            # No savepoint: told whether the prospect exists, upsert_prospect raises only while
            # validating, before it changes anything.
            prospect, created = upsert_prospect(
                self.session,
                self.sequence.team_id,
                data,
                self.now,
                owner_id=self.owner_id,
                existing=existing,
                flush=False,
            )
        except (ValidationError, Conflict) as exc:
            bad = getattr(exc, "field", None)
            where = None
            if isinstance(bad, str) and bad in table.header:
                where = f"{table.header.index(bad) + 1} ({bad})"
            return Skip(number, address, BAD_VALUE, str(exc), where)
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
        return prospect, created

    def enroll(self, number: int, prospect: Prospect, created: bool) -> Skip | None:
        """The row's enrollment, checked first: None when enrolled (or already), else its skip."""
        report, dry_run, force = self.report, self.dry_run, self.force
        # Created in this transaction: nothing about it to read.
        history = History(self.recontact, new=True) if created else self.histories.get(prospect.id)
        attempt = checked_enroll(
            self.session,
            prospect,
            self.sequence,
            self.now,
            force=force,
            dry_run=dry_run,
            history=history,
            restart_live=False,  # a re-import, forced or not, restarts nobody
        )
        verdict = attempt.verdict
        if attempt.enrolled or (
            dry_run
            and (verdict.outcome == WOULD_ENROLL or (force and verdict.outcome == NEEDS_FORCE))
        ):
            report.enrolled += 1
            if attempt.forced:
                report.forced.append((number, prospect.email, verdict.why))
            return None
        address = prospect.email
        if verdict.left_as_is:
            report.already_enrolled += 1  # re-importing a file is not a problem with it
            if force:
                # Said row by row: --force was asked for, and these rows it did not touch.
                return Skip(number, address, LEFT_AS_IS, verdict.why)
            return None
        if verdict.outcome == NEEDS_FORCE:
            report.confirm.append((number, prospect, verdict))
            return Skip(
                number,
                address,
                RECENT,
                verdict.why.removesuffix(" Enroll anyway with force if you mean it."),
            )
        code = verdict.reasons[0].code if verdict.reasons else "refused"
        return Skip(number, address, f"{REFUSED}: {code.replace('_', ' ')}", verdict.why)
