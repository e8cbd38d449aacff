"""Officials' meetings: internal video meetings of a department, with invited guests.

A meeting's link alone admits no one: its creator, the department's officials, the officials
invited to it and the gateway admin may attend (``may_attend``); to anyone else the link
answers as if no meeting had it. The creator moderates.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.rtc.models import Meeting, MeetingInvite
from seva.rtc.rooms import CallRefused, new_room
from seva.rtc.signalling import MEETING, Seat
from seva.tenancy.models import Official, Role


def create_meeting(session: Session, official: Official, *, title: str, lobby: bool) -> Meeting:
    title = " ".join(title.split())
    if not title or len(title) > 200:
        raise CallRefused("invalid_title", "give the meeting a title (1-200 characters)")
    meeting = Meeting(
        department_id=official.department_id,
        title=title,
        room=new_room("m"),
        created_by=official.id,
        lobby=lobby,
    )
    session.add(meeting)
    session.flush()
    return meeting


def meetings_of(session: Session, official: Official) -> list[Meeting]:
    """The open meetings this official may join: their own, their department's, and those
    they were invited to, newest first."""
    invited = select(MeetingInvite.meeting_id).where(MeetingInvite.official_id == official.id)
    mine = (Meeting.created_by == official.id) | Meeting.id.in_(invited)
    if official.department_id is not None:
        mine = mine | (Meeting.department_id == official.department_id)
    return list(
        session.scalars(
            select(Meeting)
            .where(mine, Meeting.ended_at.is_(None))
            .order_by(Meeting.id.desc())
            .limit(20)
        )
    )


def may_attend(session: Session, official: Official, meeting: Meeting) -> bool:
    """A meeting is internal to its department: its creator, that department's officials,
    the officials invited to it and the gateway admin (who may open every console page) join;
    for anyone else — another department's official, a CSC operator — the link is not
    enough."""
    if not official.active:
        return False
    if official.id == meeting.created_by or official.role is Role.GATEWAY_ADMIN:
        return True
    if (
        meeting.department_id is not None
        and official.department_id == meeting.department_id
        and official.role is not Role.CSC_OPERATOR
    ):
        return True  # a CSC operator serves citizens at a counter; only an invitation admits
    invited = session.scalar(
        select(MeetingInvite.id).where(
            MeetingInvite.meeting_id == meeting.id, MeetingInvite.official_id == official.id
        )
    )
    return invited is not None


def open_meeting(session: Session, official: Official, room: str) -> Meeting:
    """The open meeting with this link, if this official may attend it; otherwise refused
    as not found, so the link of another department's meeting confirms nothing."""
    meeting = session.scalar(select(Meeting).where(Meeting.room == room))
    if (
        meeting is None
        or meeting.ended_at is not None
        or not may_attend(session, official, meeting)
    ):
        raise CallRefused("not_found", "no meeting has this link", status=404)
    return meeting


def meeting_seat(session: Session, official: Official, room: str) -> Seat:
    """The official's seat in a meeting they may attend (``may_attend``); its creator
    moderates (admits from the waiting room, mutes, removes)."""
    meeting = open_meeting(session, official, room)
    return Seat(
        room=room,
        identity=f"official:{official.id}",
        name=official.name,
        role="moderator" if meeting.created_by == official.id else "official",
        kind=MEETING,
        lobby=meeting.lobby,
    )


MAX_INVITEES = 50


def invite(session: Session, official: Official, room: str, usernames: str) -> list[Official]:
    """The meeting's creator asks officials (by username, comma- or space-separated) to it;
    the ones invited are returned. A name that is no active official's is passed over
    silently, so the answer never tells which usernames exist. Inviting someone twice is
    harmless."""
    meeting = open_meeting(session, official, room)
    if meeting.created_by != official.id:
        raise CallRefused("not_host", "only the meeting's host invites officials", status=403)
    names = list(dict.fromkeys(usernames.replace(",", " ").split()))
    if not names or len(names) > MAX_INVITEES:
        raise CallRefused(
            "invalid_invitees", f"name 1 to {MAX_INVITEES} officials by their usernames"
        )
    found = {
        o.username: o
        for o in session.scalars(
            select(Official).where(Official.username.in_(names), Official.active.is_(True))
        )
    }
    already = set(
        session.scalars(
            select(MeetingInvite.official_id).where(MeetingInvite.meeting_id == meeting.id)
        )
    )
    guests = [found[name] for name in names if name in found]
    for guest in guests:
        if guest.id not in already and guest.id != meeting.created_by:
            session.add(
                MeetingInvite(meeting_id=meeting.id, official_id=guest.id, invited_by=official.id)
            )
    session.flush()
    return guests


def invitees(session: Session, meetings: Sequence[Meeting]) -> dict[int, list[str]]:
    """Meeting id → the usernames invited to it, for the host's list."""
    if not meetings:
        return {}
    rows = session.execute(
        select(MeetingInvite.meeting_id, Official.username)
        .join(Official, Official.id == MeetingInvite.official_id)
        .where(MeetingInvite.meeting_id.in_([m.id for m in meetings]))
        .order_by(Official.username)
    )
    out: dict[int, list[str]] = {}
    for meeting_id, username in rows:
        out.setdefault(meeting_id, []).append(username)
    return out
