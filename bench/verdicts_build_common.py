"""What the builders of the copied inbound parts share: reading a repository's file, a DSN's status, writing a part."""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Callable, Mapping
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import yaml


def git_show(repo: Path, commit: str, path: str) -> bytes:
    """A file's bytes at a commit of a git directory (the `fetch` tool's mirrors)."""
    return subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    ).stdout


def git_ls(repo: Path, commit: str, folder: str) -> list[str]:
    """The paths directly under `folder` at a commit."""
    return subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "--name-only", commit, folder],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()


def dsn_status(raw: bytes) -> str | None:
    """The first `Status:` of the report's delivery-status part (RFC 3464), digits only."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [payload]
        for block in blocks:
            text = block.as_string() if isinstance(block, Message) else str(block)
            found = re.search(r"^Status:\s*([245])\.(\d{1,3})\.(\d{1,3})", text, re.M | re.I)
            if found:
                return ".".join(found.groups())
    return None


def bounce_label(status: str | None, fallback_temporary: bool) -> str:
    """5.x.x is hard, 4.x.x soft; with no status, the source's (or the reader's) view."""
    if status:
        return "bounce_hard" if status.startswith("5") else "bounce_soft"
    return "bounce_soft" if fallback_temporary else "bounce_hard"


def write_part(out: Path, header: str, entries: list[dict[str, Any]]) -> None:
    """Each message byte for byte, then the manifest (file, expected, source, why); prints counts."""
    out.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        (out / entry["file"]).write_bytes(entry.pop("_raw"))
    text = header + yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=100)
    (out / "manifest.yaml").write_text(text)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["expected"]] = counts.get(entry["expected"], 0) + 1
    print(len(entries), "messages", counts)


def run_builder(
    argv: list[str],
    sources: Mapping[str, tuple[Any, ...]],
    out: Path,
    header: str,
    build: Callable[[dict[str, Path]], list[dict[str, Any]]],
) -> None:
    """The builders' command line: one `--KEY GITDIR` per source, then the part written to `out`."""
    ap = argparse.ArgumentParser()
    for key, (repo, *_rest) in sources.items():
        ap.add_argument(f"--{key}", type=Path, required=True, help=f"git dir of {repo}")
    args = ap.parse_args(argv)
    write_part(out, header, build({key: getattr(args, key) for key in sources}))
