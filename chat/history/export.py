"""The user's whole record (PROTOCOL.md section 4) and its JSON, HTML, CSV and zip forms.

`export_document` is the one place that gathers the record; the formats are renderings of
that document, so they always agree.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from chat.contacts import services as contacts
from chat.history import decrypted_lines
from chat.models import Block, HistoryExport, KeptConversation
from chat.protocol import iso_utc
from chatsite.plumbing import crypto
from moderation.models import Decision, Report

FORMATS = ("json", "html", "csv")
CONTENT_TYPES = MappingProxyType({"json": "application/json; charset=utf-8",
                                  "html": "text/html; charset=utf-8",
                                  "csv": "text/csv; charset=utf-8",
                                  "zip": "application/zip"})
# A letter is a row too: `kind` "letter", `mode` empty, `partner` the contact's handle and
# `started_at` when the two became contacts.
CSV_COLUMNS = ("conversation", "mode", "started_at", "ended_at", "ended_how", "partner",
               "from", "ts", "text", "kind")
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], None]


# ---- the document


def report_entry(report: Report) -> dict[str, Any]:
    return {"id": report.pk, "reason": report.reason, "note": report.note,
            "status": report.status, "created_at": iso_utc(report.created_at),
            "conversation": str(report.conversation_id) if report.conversation_id else None,
            "reported": report.reported_name}


def block_entry(block: Block) -> dict[str, Any]:
    return {"handle": block.blocked.username, "created_at": iso_utc(block.created_at),
            "conversation": str(block.conversation_id) if block.conversation_id else None}


def decisions_about(user_id: int, report_ids: list[int]) -> list[dict[str, Any]]:
    """Moderation decisions about the user, and the outcome of the reports they filed.

    Who decided is left out (moderators are not named to the people they decide about), and
    for decisions about someone the user reported only the outcome is given, not the
    moderator's reasons about that other person.
    """
    entries = []
    decisions = (Decision.objects.filter(Q(subject_id=user_id) | Q(report_id__in=report_ids))
                 .order_by("created_at", "pk"))
    for decision in decisions:
        entry: dict[str, Any] = {
            "id": decision.pk, "action": decision.action,
            "created_at": iso_utc(decision.created_at), "report": decision.report_id,
        }
        if decision.subject_id == user_id:
            entry.update({"about": "me", "reason": decision.reason,
                          "until": iso_utc(decision.until), "reviews": decision.reviews_id})
        else:
            entry["about"] = "my_report"
        entries.append(entry)
    return entries


def export_document(user_id: int, progress: Progress | None = None) -> dict[str, Any]:
    """The contract's section 4 document; `progress(lines_done, lines_total)` as it goes."""
    user = User.objects.get(pk=user_id)
    kept = list(KeptConversation.objects.filter(owner_id=user_id).order_by("started_at", "pk"))
    total = sum(copy.line_count for copy in kept)
    done = 0
    conversations = []
    for copy in kept:
        messages = [{"from": line["from"], "text": line["text"], "ts": line["ts"]}
                    for line in decrypted_lines(copy.pk)]
        conversations.append({
            "id": str(copy.conversation), "mode": copy.mode,
            "started_at": iso_utc(copy.started_at), "ended_at": iso_utc(copy.ended_at),
            "partner": copy.partner_handle, "ended_how": copy.ended_how or None,
            "messages": messages,
        })
        done += len(messages)
        if progress:
            progress(done, max(total, done))
    reports = list(Report.objects.filter(reporter_id=user_id).select_related("reported")
                   .order_by("created_at", "pk"))
    blocks = Block.objects.filter(blocker_id=user_id).select_related("blocked").order_by(
        "created_at", "pk")
    contact_entries, letters = contacts.export_entries(user_id)
    return {
        "format": "chat-record",
        "version": 2,
        "exported_at": iso_utc(timezone.now()),
        "user": {"handle": user.username, "joined": iso_utc(user.date_joined)},
        "conversations": conversations,
        "reports": [report_entry(report) for report in reports],
        "blocks": [block_entry(block) for block in blocks],
        "decisions": decisions_about(user_id, [report.pk for report in reports]),
        "contacts": contact_entries,
        "letters": letters,
    }


# ---- renderings


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1)


def csv_cell(value: Any) -> str:
    """The cell as text, with a leading quote where a spreadsheet would run a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def render_csv(document: dict[str, Any]) -> str:
    """One row per line, in conversation order, then one per letter, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for conversation in document["conversations"]:
        for message in conversation["messages"]:
            writer.writerow([csv_cell(value) for value in (
                conversation["id"], conversation["mode"], conversation["started_at"],
                conversation["ended_at"], conversation.get("ended_how"),
                conversation["partner"], message["from"], message["ts"], message["text"],
                "line")])
    since = {contact["handle"]: contact["since"] for contact in document.get("contacts", [])}
    for letter in document.get("letters", []):
        writer.writerow([csv_cell(value) for value in (
            "", "", since.get(letter["contact"]), None, None, letter["contact"], letter["from"],
            letter["ts"], letter["text"], "letter")])
    return out.getvalue()


def render_html(document: dict[str, Any]) -> str:
    """A self-contained page (no outside resources); the template escapes everything."""
    return render_to_string("history/record.html", {"record": document})


RENDERERS: Mapping[str, Callable[[dict[str, Any]], str]] = MappingProxyType({
    "json": render_json, "html": render_html, "csv": render_csv})


def file_name(document: dict[str, Any], extension: str) -> str:
    handle = "".join(c for c in document["user"]["handle"] if c.isalnum() or c in "-_")
    return f"chat-record-{handle or 'user'}-{document['exported_at'][:10]}.{extension}"


def build_zip(document: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for extension in FORMATS:
            archive.writestr(file_name(document, extension),
                             RENDERERS[extension](document).encode())
    return out.getvalue()


# ---- the zip job: started from the page, built by a Celery task


def start_export(user_id: int) -> HistoryExport:
    return HistoryExport.objects.create(
        owner_id=user_id,
        expires_at=timezone.now() + timedelta(hours=settings.EXPORT_LINK_HOURS))


def build_export(export_id: str) -> None:
    """Build and store the zip; running it again for a finished export does nothing."""
    job = HistoryExport.objects.filter(pk=export_id).exclude(
        status=HistoryExport.Status.READY).first()
    if job is None:
        return
    jobs = HistoryExport.objects.filter(pk=export_id)
    jobs.update(status=HistoryExport.Status.RUNNING, progress=0, error="")
    shown = [0]

    def progress(done: int, total: int) -> None:
        # Building the document is most of the work; the zip is the last tenth.
        percent = min(90, done * 90 // total) if total else 90
        if percent >= shown[0] + 5:
            shown[0] = percent
            jobs.update(progress=percent)

    document = export_document(job.owner_id, progress)
    data = build_zip(document)
    finished = timezone.now()
    jobs.update(status=HistoryExport.Status.READY, progress=100,
                zip_encrypted=crypto.encrypt_bytes(data), zip_size=len(data),
                finished_at=finished,
                expires_at=finished + timedelta(hours=settings.EXPORT_LINK_HOURS))


def mark_export_failed(export_id: str, reason: str) -> None:
    HistoryExport.objects.filter(pk=export_id).update(
        status=HistoryExport.Status.FAILED, error=reason[:200])


def own_export(user_id: int, export_id: Any) -> HistoryExport | None:
    """The user's own export, or None (another user's, or a malformed id)."""
    try:
        return HistoryExport.objects.filter(owner_id=user_id, pk=export_id).defer(
            "zip_encrypted").first()
    except (ValueError, TypeError):
        return None


def downloadable_zip(user_id: int, export_id: Any) -> bytes | None:
    """The zip's bytes while the link is valid; None when absent, unfinished or expired."""
    job = HistoryExport.objects.filter(
        owner_id=user_id, pk=export_id, status=HistoryExport.Status.READY,
        expires_at__gt=timezone.now()).first()
    if job is None or job.zip_encrypted is None:
        return None
    return crypto.decrypt_bytes(job.zip_encrypted)
