"""Lead management: the pool, fair assignment, acceptance and the speed-to-lead clock.

- `pool`: team lead rules and rep settings, new leads into the pool (API, CSV, web form);
- `assignment`: round-robin by capacity and routing rules, company owners, manual hand-overs;
- `acceptance`: a rep accepts or rejects an assigned lead within a deadline;
- `sla`: the speed-to-lead clock and re-assignment, run by the scheduler;
- `report`: the manager's view (the pool, leads per rep, time to first touch, hand-overs).

Other packages import only the names below.
"""

from __future__ import annotations

from .acceptance import accept, answerable, clean_reason, reject
from .assignment import assign_manual, assign_pool, assign_prospects, reassign
from .pool import (
    clean_rep,
    clean_settings,
    import_leads,
    intake,
    lead_history,
    lead_json,
    pending_for,
    pool_leads,
    rep_json,
    rep_row,
    settings_for,
    settings_json,
    submit_form,
    update_rep,
    update_settings,
)
from .report import LeadReport, RepLeads, lead_report, report_json
from .sla import decide, sla_tick

__all__ = [
    "LeadReport",
    "RepLeads",
    "accept",
    "answerable",
    "assign_manual",
    "assign_pool",
    "assign_prospects",
    "clean_reason",
    "clean_rep",
    "clean_settings",
    "decide",
    "import_leads",
    "intake",
    "lead_history",
    "lead_json",
    "lead_report",
    "pending_for",
    "pool_leads",
    "reassign",
    "reject",
    "rep_json",
    "rep_row",
    "report_json",
    "settings_for",
    "settings_json",
    "sla_tick",
    "submit_form",
    "update_rep",
    "update_settings",
]
