"""CSV import through `followup enroll`: awkward files from tests/data/csv/ and the exact report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from sequences import runtime
from sequences.enrollment import record
from sequences.models import Enrollment, Prospect
from tracker.cli.main import main

from .conftest import Sink, make_env
from .sending_helpers import drain, email, make_prospect, make_sequence

CORPUS = Path(__file__).resolve().parent / "data" / "csv"


def _enroll(rt: runtime.Runtime, tmp_path: Path, sequence: int, name: str, *flags: str) -> Any:
    env = make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path)
    path = name if name.startswith("/") else str(CORPUS / name)
    return CliRunner().invoke(
        main, ["enroll", "--sequence", str(sequence), path, *flags], env=env, catch_exceptions=False
    )


def _counts(rt: runtime.Runtime) -> tuple[int, int]:
    with rt.sessions() as s:
        prospects = s.scalar(select(func.count()).select_from(Prospect)) or 0
        enrollments = s.scalar(select(func.count()).select_from(Enrollment)) or 0
    return prospects, enrollments


def test_duplicate_addresses_are_reported_by_row_and_the_first_row_wins(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    result = _enroll(rt, tmp_path, sequence, "duplicates.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created 3, updated 0, enrolled 3, skipped 2 of 5 rows (0 unchanged, 0 already enrolled)",
        "skipped 2: duplicate address in this file",
        "  row 4, column 1 (email): ann@acme.example, the same address as row 2"
        " (the first row wins)",
        "  row 6, column 1 (email): bob@acme.example, the same address as row 3"
        " (the first row wins)",
    ]
    with rt.sessions() as s:
        names = s.scalars(select(Prospect.first_name).order_by(Prospect.email)).all()
    assert names == ["Ann", "Bob", "Cat"]


def test_reimporting_the_same_file_changes_nothing_and_says_so(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    _enroll(rt, tmp_path, sequence, "duplicates.csv")
    before = _counts(rt)
    again = _enroll(rt, tmp_path, sequence, "duplicates.csv")
    assert again.exit_code == 0
    assert again.stdout.splitlines()[:2] == [
        "created 0, updated 0, enrolled 0, skipped 2 of 5 rows (3 unchanged, 3 already enrolled)",
        "nothing changed: every row was imported before",
    ]
    assert _counts(rt) == before == (3, 3)


def test_short_rows_extra_cells_bad_addresses_and_nameless_columns_by_row_and_column(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    result = _enroll(rt, tmp_path, sequence, "awkward.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created 2, updated 0, enrolled 2, skipped 5 of 7 rows (0 unchanged, 0 already enrolled)",
        "skipped 2: bad address",
        "  row 6, column 1 (email): `gus@` is not a valid email address",
        "  row 7, column 1 (email): an empty cell is not a valid email address",
        "skipped 1: short row",
        "  row 3, column 3: eve@acme.example, 2 cells where the header names 5"
        " (missing: company, column 4, timezone)",
        "skipped 1: extra cells",
        "  row 4, column 6: fay@acme.example, 6 cells where the header names 5"
        " (an unquoted comma or semicolon in a value?)",
        "skipped 1: bad value",
        "  row 8, column 5 (timezone): hal@acme.example, timezone: not an IANA time zone"
        " such as Europe/Paris",
        "note: row 1, column 4 has no name: its cells are ignored",
        "note: row 4, column 4: `Inc` ignored (the column has no name)",
        "note: row 9, column 4: `note` ignored (the column has no name)",
    ]
    assert result.stderr.count("importing") == 1  # the bar, apart from the report
    strict = _enroll(rt, tmp_path, sequence, "awkward.csv", "--strict")
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[-1] == "Error: --strict: 5 rows skipped"


def test_an_excel_export_with_bom_semicolons_and_crlf_is_read(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    assert (CORPUS / "excel.csv").read_bytes().startswith(b"\xef\xbb\xbfE-mail;")
    assert b"\r\n" in (CORPUS / "excel.csv").read_bytes()
    sequence = make_sequence(rt, [email()])
    result = _enroll(rt, tmp_path, sequence, "excel.csv", "--strict")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created 2, updated 0, enrolled 2, skipped 0 of 2 rows (0 unchanged, 0 already enrolled)",
        "note: columns separated by ';'",
    ]
    with rt.sessions() as s:
        zoe = s.scalar(select(Prospect).where(Prospect.email == "zoe@acme.example"))
        jon = s.scalar(select(Prospect).where(Prospect.email == "jon@acme.example"))
    assert zoe is not None and zoe.first_name == "Zo\u00eb"
    assert zoe.fields == {"need": "faster onboarding"}
    assert jon is not None and jon.company == "Acme; Ltd"


def test_an_excel_unicode_text_export_in_utf16_with_tabs_is_read(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    raw = (CORPUS / "excel_unicode_text.txt").read_bytes()
    assert raw.startswith(b"\xff\xfeE\x00-\x00m\x00") and b"\t\x00" in raw  # UTF-16LE, BOM
    sequence = make_sequence(rt, [email()])
    result = _enroll(rt, tmp_path, sequence, "excel_unicode_text.txt", "--strict")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created 2, updated 0, enrolled 2, skipped 0 of 2 rows (0 unchanged, 0 already enrolled)",
        "note: read as UTF-16",
        "note: columns separated by tab",
    ]
    with rt.sessions() as s:
        lukasz = s.scalar(select(Prospect).where(Prospect.email == "lukasz@acme.example"))
        mei = s.scalar(select(Prospect).where(Prospect.email == "mei@acme.example"))
    assert lukasz is not None and lukasz.first_name == "\u0141ukasz"
    assert lukasz.company == "Acme, Ltd" and lukasz.fields == {"need": "faster onboarding"}
    assert mei is not None and mei.first_name == "\u7f8e\u7433"
    assert mei.company == 'Globex "East"'


def test_a_windows_1252_file_is_read_and_says_how(rt: runtime.Runtime, tmp_path: Path) -> None:
    sequence = make_sequence(rt, [email()])
    result = _enroll(rt, tmp_path, sequence, "cp1252.csv")
    assert result.stdout.splitlines() == [
        "created 1, updated 0, enrolled 1, skipped 0 of 1 row (0 unchanged, 0 already enrolled)",
        "note: read as Windows-1252 (cp1252), not UTF-8",
    ]
    with rt.sessions() as s:
        jose = s.scalar(select(Prospect).where(Prospect.email == "jose@acme.example"))
    assert jose is not None and (jose.first_name, jose.last_name) == ("Jos\u00e9", "M\u00fcller")
    assert jose.company == "Caf\u00e9 \u2013 Ltd"


def test_a_file_that_is_not_a_csv_is_one_error_line_and_changes_nothing(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    for name, message in [
        (
            "not_a_csv.csv",
            "not a CSV file (it is binary, e.g. an .xlsx workbook); save it as CSV and try again",
        ),
        (
            "no_email.csv",
            "the first line must name the columns, one of them `email` (found: name, company)",
        ),
    ]:
        result = _enroll(rt, tmp_path, sequence, name)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr == f"Error: {name}: {message}\n"
    assert _counts(rt) == (0, 0)


def test_refusals_from_the_enrollment_check_are_reported_per_row(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email(body_html="<p>About {{ fields.need }}</p>")])
    make_prospect(rt, "gone@acme.example", status="unsubscribed")
    path = tmp_path / "needs.csv"
    path.write_text("email,need\nann@acme.example,speed\nbob@acme.example,\ngone@acme.example,x\n")
    result = _enroll(rt, tmp_path, sequence, str(path), "--strict")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "created 2, updated 1, enrolled 1, skipped 2 of 3 rows (0 unchanged, 0 already enrolled)"
    )
    assert lines[1] == "skipped 1: not enrolled: cannot render"
    assert lines[2].startswith("  row 3: bob@acme.example, cannot be enrolled: step 1 (body):")
    assert "add the field `need` to the prospect" in lines[2]
    assert lines[3] == "skipped 1: not enrolled: unsubscribed"
    assert lines[4].startswith("  row 4: gone@acme.example, the address unsubscribed on")


def test_a_dry_run_reports_what_would_happen_and_changes_nothing(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    result = _enroll(rt, tmp_path, sequence, "duplicates.csv", "--dry-run")
    assert result.stdout.splitlines()[0] == (
        "dry run, nothing changed: would create 3, update 0, enroll 3, skipped 2 of 5 rows"
        " (0 unchanged, 0 already enrolled)"
    )
    assert _counts(rt) == (0, 0)


# One database is enough for the size; the cases above run on both.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ten_thousand_rows_with_a_progress_bar_and_one_report(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    path = tmp_path / "big.csv"
    rows = [f"p{i}@bulk.example,P{i},Bulk" for i in range(10_000)]
    rows[5000] = "p0@bulk.example,Again,Bulk"  # row 5002 repeats row 2
    path.write_text("email,first_name,company\n" + "\n".join(rows) + "\n")
    result = _enroll(rt, tmp_path, sequence, str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created 9999, updated 0, enrolled 9999, skipped 1 of 10000 rows"
        " (0 unchanged, 0 already enrolled)",
        "skipped 1: duplicate address in this file",
        "  row 5002, column 1 (email): p0@bulk.example, the same address as row 2"
        " (the first row wins)",
    ]
    assert "importing" in result.stderr and "importing" not in result.stdout
    assert _counts(rt) == (9999, 9999)


def test_a_file_of_known_prospects_is_refused_for_the_same_reasons_as_one_by_one(
    rt: runtime.Runtime,
) -> None:
    """The import reads what its checks need for the whole file at once: each verdict must be
    the one checking that prospect alone gives (sequences/enroll_checks.check_enrollment)."""
    from datetime import timedelta

    from sequences.enroll_checks import check_enrollment
    from sequences.enrollment import enroll, record
    from sequences.models import Sequence
    from sequences.workspace import import_csv, read_table

    now = rt.clock.now()
    sequence_id = make_sequence(rt, [email()], settings={"min_reenroll_interval": "P90D"})
    other_id = make_sequence(rt, [email()], name="Other")
    ids = {a: make_prospect(rt, f"{a}@known.example") for a in ("ann", "bob", "cy", "dee", "eve")}
    with rt.sessions.begin() as s:
        this, other = s.get(Sequence, sequence_id), s.get(Sequence, other_id)
        assert this is not None and other is not None
        by = {a: s.get(Prospect, i) for a, i in ids.items()}
        record(s, "reply", now - timedelta(days=3), prospect_id=ids["ann"])
        record(s, "reply", now - timedelta(days=300), prospect_id=ids["ann"])
        enroll(s, by["bob"], other, now - timedelta(days=2))  # live elsewhere
        enroll(s, by["cy"], this, now - timedelta(days=1))  # already enrolled here
        finished = enroll(s, by["dee"], this, now - timedelta(days=10))
        finished.status = "finished"  # within the sequence's re-enroll interval
        record(s, "meeting_booked", now - timedelta(days=400), prospect_id=ids["eve"])  # long ago
    with rt.sessions() as s:
        this = s.get(Sequence, sequence_id)
        assert this is not None
        alone = {
            a: check_enrollment(s, p, this, now)
            for a, i in ids.items()
            if (p := s.get(Prospect, i)) is not None
        }
    path = "email\n" + "".join(f"{a}@known.example\n" for a in ids) + "new@known.example\n"
    with rt.sessions.begin() as s:
        this = s.get(Sequence, sequence_id)
        assert this is not None
        report = import_csv(s, read_table(path.encode()), this, now)
    details = {skip.email.partition("@")[0]: skip.detail for skip in report.skipped}
    assert set(details) == {"ann", "bob", "dee"}
    for name in details:
        assert details[name] == alone[name].why.removesuffix(
            " Enroll anyway with force if you mean it."
        )
    assert "replied on" in details["ann"] and "Other" in details["bob"]
    assert "re-enrolling only after 90 days" in details["dee"]
    assert alone["eve"].reasons == [] and alone["cy"].reasons[0].code == "already_enrolled"
    assert (report.created, report.enrolled, report.already_enrolled) == (1, 2, 1)  # new, eve


def test_reimporting_with_force_restarts_nobody_and_sends_step_one_once(
    rt: runtime.Runtime, tmp_path: Path, smtp_sink: Sink
) -> None:
    # Two steps, so a prospect who got step 1 is still live (waiting for step 2) on re-import.
    sequence = make_sequence(rt, [email("Step one"), email("Step two", delay="P3D")])
    real_now = datetime.now(UTC)  # the CLI runs on the system clock
    replied = make_prospect(rt, "re@acme.example")
    with rt.sessions.begin() as s:
        record(s, "reply", real_now - timedelta(days=3), prospect_id=replied)
    path = tmp_path / "leads.csv"
    path.write_text("email\nana@acme.example\nben@acme.example\nre@acme.example\n")
    first = _enroll(rt, tmp_path, sequence, str(path))
    assert first.stdout.splitlines()[0] == (
        "created 2, updated 0, enrolled 2, skipped 1 of 3 rows (1 unchanged, 0 already enrolled)"
    )
    rt.clock.set(datetime.now(UTC) + timedelta(minutes=1))
    drain(rt)
    assert sorted(m.envelope_to[0] for m in smtp_sink.messages()) == [
        "ana@acme.example",
        "ben@acme.example",
    ]
    with rt.sessions() as s:
        before = {e.id: (e.status, e.current_step) for e in s.scalars(select(Enrollment))}

    # --force to push past re's recent reply: ana and ben stay where they are.
    forced = _enroll(rt, tmp_path, sequence, str(path), "--force")
    assert forced.exit_code == 0, forced.output
    ids = {address: i for i, address in _enrollment_ids(rt).items()}
    assert forced.stdout.splitlines() == [
        "created 0, updated 0, enrolled 1, skipped 2 of 3 rows (3 unchanged, 2 already enrolled)",
        "enrolled with --force 1:",
        f"  row 4: re@acme.example, enrolled although the prospect replied on"
        f" {(real_now - timedelta(days=3)):%Y-%m-%d}, within the team's re-contact interval"
        " of 30 days; you forced it",
        "skipped 2: already in this sequence, left as is (--force never restarts a file's rows)",
        f"  row 2: ana@acme.example, already active in this sequence (enrollment"
        f" {ids['ana@acme.example']}), left as is",
        f"  row 3: ben@acme.example, already active in this sequence (enrollment"
        f" {ids['ben@acme.example']}), left as is",
    ]
    with rt.sessions() as s:
        after = {e.id: (e.status, e.current_step) for e in s.scalars(select(Enrollment))}
    assert {i: after[i] for i in before} == before  # nobody unenrolled, nobody back at step 1
    drain(rt)
    sent = sorted(m.envelope_to[0] for m in smtp_sink.messages())
    assert sent == ["ana@acme.example", "ben@acme.example", "re@acme.example"]

    # And again, forced or not: nothing changes, nothing is sent.
    for flags in (("--force",), ()):
        again = _enroll(rt, tmp_path, sequence, str(path), *flags)
        assert "enrolled 0" in again.stdout and "nothing changed" in again.stdout
    drain(rt)
    assert len(smtp_sink.messages()) == 3
    assert _counts(rt) == (3, 3)


def _enrollment_ids(rt: runtime.Runtime) -> dict[int, str]:
    with rt.sessions() as s:
        rows = s.execute(
            select(Enrollment.id, Prospect.email).join(
                Prospect, Prospect.id == Enrollment.prospect_id
            )
        ).all()
    return {i: address for i, address in rows}
