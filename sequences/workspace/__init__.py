"""The rep's and the manager's workspace: people, their timeline, their work and its reports.

- `accounts`: teams, users and API keys;
- `teams`: creating and listing teams, moving users between them (admins);
- `prospects`: creating and updating prospects, every field validated;
- `attention`: the "Needs attention" list of failures a rep can fix;
- `activity`: a prospect's timeline and the summary a rep reads before a call;
- `engagement`: the hot list, ranked by recent human engagement;
- `reports`: follow-up discipline per rep and per-step sequence statistics;
- `digest`: the daily digest email;
- `documents`: files a rep shares from a step;
- `csvimport`: enroll prospects from a CSV file;
- `permissions`: who may see and change which object (the rules; tracker/api/access.py applies them).

Other packages import only the names below.
"""

from __future__ import annotations

from .accounts import (
    check_password,
    create_api_key,
    create_user,
    default_team,
    revoke_api_key,
    user_for_key,
)
from .activity import activity, event_json
from .attention import Item, needs_attention, retry
from .csvimport import enroll_csv, row_to_prospect
from .digest import (
    collect,
    due_users,
    local_day,
    render,
    send_digest,
    setting_for,
    setting_json,
    update_setting,
    zone,
)
from .documents import create_document, document_json, get_document
from .engagement import hot_list, version
from .permissions import (
    CHANGE,
    READ,
    Access,
    document_access,
    enrollment_access,
    inbound_access,
    inbound_filter,
    key_access,
    may_change_sequence,
    prospect_access,
    prospect_filter,
    sequence_access,
    task_access,
    webhook_access,
    webhook_filter,
)
from .prospects import (
    TEXT_FIELDS,
    clean_prospect_data,
    create_prospect,
    normalise_email,
    prospect_json,
    upsert_prospect,
)
from .reports import RepReport, StepStats, rep_report, step_stats
from .teams import (
    TeamRow,
    clean_domain,
    create_team,
    find_team,
    list_teams,
    move_user,
    team_json,
    team_named,
    user_json,
)

__all__ = [
    "CHANGE",
    "READ",
    "TEXT_FIELDS",
    "Access",
    "Item",
    "RepReport",
    "StepStats",
    "TeamRow",
    "activity",
    "check_password",
    "clean_domain",
    "clean_prospect_data",
    "collect",
    "create_api_key",
    "create_document",
    "create_prospect",
    "create_team",
    "create_user",
    "default_team",
    "document_access",
    "document_json",
    "due_users",
    "enroll_csv",
    "enrollment_access",
    "event_json",
    "find_team",
    "get_document",
    "hot_list",
    "inbound_access",
    "inbound_filter",
    "key_access",
    "list_teams",
    "local_day",
    "may_change_sequence",
    "move_user",
    "needs_attention",
    "normalise_email",
    "prospect_access",
    "prospect_filter",
    "prospect_json",
    "render",
    "rep_report",
    "retry",
    "revoke_api_key",
    "row_to_prospect",
    "send_digest",
    "sequence_access",
    "setting_for",
    "setting_json",
    "step_stats",
    "task_access",
    "team_json",
    "team_named",
    "update_setting",
    "upsert_prospect",
    "user_for_key",
    "user_json",
    "version",
    "webhook_access",
    "webhook_filter",
    "zone",
]
