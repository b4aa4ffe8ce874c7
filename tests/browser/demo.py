"""A small, believable team's week, for screenshots and the phone-size checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sequences.enrollment import advance, record
from sequences.models import Task
from sequences.tasks import log_call

from ..webkit import Team, add_prospect, add_sequence, enrolled, hit, send

PEOPLE = [
    ("Zoe", "Park", "Initech", "+1 415 555 0100"),
    ("Liam", "Chen", "Globex", "+1 212 555 0142"),
    ("Ava", "Novak", "Umbrella Health", "+44 20 7946 0018"),
    ("Noah", "Okafor", "Stark Logistics", "+1 646 555 0199"),
    ("Mia", "Rossi", "Wayne Foods", None),
    ("Ethan", "Dubois", "Acme Robotics", "+33 1 70 36 39 50"),
]


@dataclass
class Demo:
    prospect_ids: list[int]
    sequence_id: int


def seed_demo(session: Session, team: Team, now: datetime) -> Demo:
    sequence = add_sequence(
        session,
        team.rep_id,
        now - timedelta(days=20),
        [
            {
                "type": "email",
                "delay": "PT0S",
                "subject": "Thanks for your interest, {{ first_name }}",
                "body_html": "<p>Hi {{ first_name }}, here is our brochure.</p>",
            },
            {"type": "call", "delay": "P7D", "title": "Qualify the lead"},
            {
                "type": "email",
                "delay": "P3D",
                "subject": "The offer ends soon",
                "body_html": "<p>Hi {{ first_name }}, a reminder about the offer.</p>",
            },
        ],
    )
    sequence.name = "New lead playbook"
    ids = []
    for i, (first, last, company, phone) in enumerate(PEOPLE):
        owner = team.rep_id if i < 4 else team.other_rep_id
        p = add_prospect(
            session,
            owner,
            f"{first.lower()}@{company.split()[0].lower()}.example",
            first_name=first,
            last_name=last,
            company=company,
            phone=phone,
        )
        p.created_at = now - timedelta(days=10 - i)
        ids.append(p.id)
        e = enrolled(session, p, sequence, now - timedelta(days=9 - i))
        sent_at = now - timedelta(days=9 - i, hours=2)
        m = send(
            session,
            e,
            0,
            sent_at,
            subject=f"Thanks for your interest, {first}",
            variant="A" if i % 2 else "B",
        )
        hit(session, m, "open", sent_at + timedelta(seconds=1), "machine", "apple_privacy_proxy")
        advance(session, e, 0, sent_at)
        if i < 4:
            hit(session, m, "open", now - timedelta(minutes=12 + 40 * i))
            hit(session, m, "open", now - timedelta(hours=5 + i))
        if i in (0, 2):
            hit(
                session,
                m,
                "click",
                now - timedelta(minutes=10 + 50 * i),
                url="https://acme.example/pricing",
            )
            hit(session, m, "click", now - timedelta(hours=3), url="https://acme.example/pricing")
        if i == 0:
            record(
                session,
                "document_viewed",
                now - timedelta(minutes=8),
                prospect_id=p.id,
                message_id=m.id,
                name="the brochure",
            ).verdict = "human"
            log_call(
                session,
                p.id,
                now - timedelta(days=2),
                "voicemail",
                "Left a voicemail about the trial.",
            )
        if i == 1:
            record(
                session,
                "reply",
                now - timedelta(hours=20),
                prospect_id=p.id,
                enrollment_id=e.id,
                message_id=m.id,
                subject=f"Re: Thanks for your interest, {first}",
                text="Thanks! Can you send pricing for 40 seats? We decide by the end of the month.",
            )
        if i in (3, 5):
            log_call(
                session, p.id, now - timedelta(days=1), "connected", "Interested; call back Friday."
            )
        session.add(
            Task(
                enrollment_id=e.id,
                step_position=1,
                prospect_id=p.id,
                owner_id=owner,
                type="call",
                title="Qualify the lead",
                notes="Ask about team size and timeline.",
                due_at=now - timedelta(days=1 if i % 2 else 0, hours=1),
            )
        )
    session.commit()
    return Demo(ids, sequence.id)
