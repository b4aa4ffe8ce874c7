"""Lead management: the pool, fair assignment, acceptance and the speed-to-lead clock.

- `pool`: team lead rules and rep settings, the pool itself;
- `intake`: new leads into the pool (API, CSV, web form), then assigned;
- `assignment`: round-robin by capacity and routing rules, company owners, manual hand-overs;
- `acceptance`: a rep accepts or rejects an assigned lead within a deadline;
- `deadlines`: when an accepted lead is next due (the SLA's stages), read by the three above;
- `sla`: the speed-to-lead clock and re-assignment, run by the scheduler;
- `report`: the manager's view (the pool, leads per rep, time to first touch, hand-overs).
- `statuses`: the team's lead statuses, changes by compare-and-set on the timeline;
- `firings`: the firings a status change queues, and which statuses the rules name;
- `triggers`: rules fired once per entry into a status, run by the scheduler.

Lower modules never import higher ones (a test checks there is no loop): deadlines, pool and
firings at the bottom; statuses, assignment above them; acceptance, intake, triggers, sla on top.

Other packages import only the names below.
"""

from __future__ import annotations

from .acceptance import accept, answerable, clean_reason, reject
from .assignment import assign_manual, assign_pool, assign_prospects, reassign
from .firings import queue_firings
from .intake import import_leads, intake, submit_form
from .pool import (
    clean_rep,
    clean_settings,
    lead_history,
    lead_json,
    parse_pool_cursor,
    pending_for,
    pool_cursor,
    pool_leads,
    pool_size,
    rep_json,
    rep_row,
    settings_for,
    settings_json,
    update_rep,
    update_settings,
)
from .report import LeadReport, RepLeads, lead_report, report_json
from .sla import decide, sla_tick
from .statuses import (
    STATUS_CHANGED,
    change_many,
    change_status,
    clean_note,
    first_touches,
    known_status,
    replace_statuses,
    status_filter,
    statuses_json,
    system_change,
    team_statuses,
)
from .triggers import (
    TriggerEmail,
    delete_rule,
    fire_due,
    get_rule,
    rule_json,
    save_rule,
    team_rules,
    trigger_email,
)

__all__ = [
    "STATUS_CHANGED",
    "LeadReport",
    "RepLeads",
    "TriggerEmail",
    "accept",
    "answerable",
    "assign_manual",
    "assign_pool",
    "assign_prospects",
    "change_many",
    "change_status",
    "clean_note",
    "clean_reason",
    "clean_rep",
    "clean_settings",
    "decide",
    "delete_rule",
    "fire_due",
    "first_touches",
    "get_rule",
    "import_leads",
    "intake",
    "known_status",
    "lead_history",
    "lead_json",
    "lead_report",
    "parse_pool_cursor",
    "pending_for",
    "pool_cursor",
    "pool_leads",
    "pool_size",
    "queue_firings",
    "reassign",
    "reject",
    "rep_json",
    "rep_row",
    "replace_statuses",
    "report_json",
    "rule_json",
    "save_rule",
    "settings_for",
    "settings_json",
    "sla_tick",
    "status_filter",
    "statuses_json",
    "submit_form",
    "system_change",
    "team_rules",
    "team_statuses",
    "trigger_email",
    "update_rep",
    "update_settings",
]
