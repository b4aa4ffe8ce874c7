"""The rep's and the manager's workspace: people, their timeline, their work and its reports.

- `accounts`: teams, users and API keys;
- `teams`: creating and listing teams, moving users between them (admins);
- `prospects`: creating and updating prospects, every field validated;
- `attention`: the "Needs attention" list of failures a rep can fix;
- `activity`: a prospect's timeline and the summary a rep reads before a call;
- `engagement`: the hot list, ranked by recent human engagement;
- `opens` (exported as `open_words`): the words for opens inferred from a click or a reply and
  for a machine's opens, used wherever opens are counted or listed;
- `reports`: follow-up discipline per rep and per-step sequence statistics;
- `digest`: the daily digest email;
- `documents`: files a rep shares from a step;
- `csvimport`: enroll prospects from a CSV file;
- `throttle`, `signin`: the backoff policy of failed sign-ins and API keys, its shared counters
  and the failed attempts a manager reads;
- `localday`: a user's day in their time zone (today, overdue);
- `zones`: a user's and a team's time zone, checked against the IANA names, and the one in effect;
- `permissions`: who may see and change which object (the rules; tracker/api/access.py applies them).

Other packages import only the names below.
"""

from __future__ import annotations

from . import opens as open_words
from .accounts import (
    check_password,
    create_api_key,
    create_user,
    default_team,
    revoke_api_key,
    user_for_key,
)
from .activity import activity, event_json
from .attention import Item, needs_attention, resume_mailbox, retry
from .csvimport import ImportReport, Table, import_csv, read_table, row_to_prospect
from .digest import (
    collect,
    digest_zone,
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
from .localday import (
    LATER,
    OVERDUE,
    TODAY,
    LocalDay,
    day_bounds,
    local_time,
    period_bounds,
    when_due,
)
from .localday import local_day as local_day_bounds
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
from .reports import RepReport, StepStats, holder, rep_report, step_stats
from .signin import (
    clear,
    count_failure,
    failure_json,
    failures_filter,
    key_failure,
    recent_failures,
    record,
    scope_key,
    wait,
)
from .teams import (
    TeamRow,
    clean_domain,
    create_team,
    find_team,
    list_teams,
    move_user,
    team_json,
    team_named,
    update_team,
    user_json,
)
from .throttle import (
    API_KEY_ADDRESS,
    LOGIN_ACCOUNT,
    LOGIN_ADDRESS,
    LOGIN_PAIR,
    Policy,
    with_timing,
)
from .zones import clean_zone, effective_zone, set_team_zone, set_user_zone, zone_names

__all__ = [
    "API_KEY_ADDRESS",
    "CHANGE",
    "LATER",
    "LOGIN_ACCOUNT",
    "LOGIN_ADDRESS",
    "LOGIN_PAIR",
    "OVERDUE",
    "READ",
    "TEXT_FIELDS",
    "TODAY",
    "Access",
    "ImportReport",
    "Item",
    "LocalDay",
    "Policy",
    "RepReport",
    "StepStats",
    "Table",
    "TeamRow",
    "activity",
    "check_password",
    "clean_domain",
    "clean_prospect_data",
    "clean_zone",
    "clear",
    "collect",
    "count_failure",
    "create_api_key",
    "create_document",
    "create_prospect",
    "create_team",
    "create_user",
    "day_bounds",
    "default_team",
    "digest_zone",
    "document_access",
    "document_json",
    "due_users",
    "effective_zone",
    "enrollment_access",
    "event_json",
    "failure_json",
    "failures_filter",
    "find_team",
    "get_document",
    "holder",
    "hot_list",
    "import_csv",
    "inbound_access",
    "inbound_filter",
    "key_access",
    "key_failure",
    "list_teams",
    "local_day",
    "local_day_bounds",
    "local_time",
    "may_change_sequence",
    "move_user",
    "needs_attention",
    "normalise_email",
    "open_words",
    "period_bounds",
    "prospect_access",
    "prospect_filter",
    "prospect_json",
    "read_table",
    "recent_failures",
    "record",
    "render",
    "rep_report",
    "resume_mailbox",
    "retry",
    "revoke_api_key",
    "row_to_prospect",
    "scope_key",
    "send_digest",
    "sequence_access",
    "set_team_zone",
    "set_user_zone",
    "setting_for",
    "setting_json",
    "step_stats",
    "task_access",
    "team_json",
    "team_named",
    "update_setting",
    "update_team",
    "upsert_prospect",
    "user_for_key",
    "user_json",
    "version",
    "wait",
    "webhook_access",
    "webhook_filter",
    "when_due",
    "with_timing",
    "zone",
    "zone_names",
]
