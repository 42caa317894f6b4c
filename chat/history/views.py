"""Pages for kept history and the user's record; the rules live in chat.history and
chat.history.export."""
from __future__ import annotations

import logging
import uuid
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from chat import history
from chat.history import export, tasks
from chat.models import HistoryExport
from chat.protocol import iso_utc

log = logging.getLogger(__name__)


def attachment(body: str | bytes, name: str, extension: str) -> HttpResponse:
    response = HttpResponse(body, content_type=export.CONTENT_TYPES[extension])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def history_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        if request.POST.get("action") != "delete_all":
            return HttpResponseBadRequest("Unknown action: send action=delete_all to delete "
                                          "every kept conversation.")
        count = history.delete_all_kept(user.id)
        messages.success(request, f"Deleted {count} conversation(s) from your history.")
        return redirect("history")
    query = request.GET.get("q", "").strip()[:settings.HISTORY_SEARCH_MAX_LENGTH]
    rows = history.kept_conversations(user.id)
    if query:
        rows = rows.filter(pk__in=history.search_kept(user.id, query))
    page = Paginator(rows, settings.HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "history/list.html", {"page": page, "query": query})


@login_required
@require_http_methods(["GET", "POST"])
def transcript(request: HttpRequest, conversation: uuid.UUID) -> HttpResponse:
    copy = history.kept_copy(request.user.id, conversation)
    if copy is None:
        raise Http404("No such conversation in your history.")
    if request.method == "POST":
        history.delete_kept(request.user.id, conversation)
        messages.success(request, "The conversation is deleted from your history.")
        return redirect("history")
    return render(request, "history/transcript.html",
                  {"kept": copy, "lines": list(history.decrypted_lines(copy.pk))})


def queue_export(job_id: str) -> None:
    try:
        tasks.build_export.delay(job_id)
    except Exception:
        # Eager mode runs the task here; the job is marked failed and the page says so.
        log.exception("export %s failed", job_id)


@login_required
@require_http_methods(["GET", "POST"])
def export_record(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        job = export.start_export(user.id)
        # Queued once the job row is committed, so a worker never looks for a job not yet there.
        transaction.on_commit(partial(queue_export, str(job.pk)))
        return redirect("export_progress", export_id=job.pk)
    extension = request.GET.get("format")
    if extension is None:
        recent = HistoryExport.objects.filter(owner_id=user.id).defer(
            "zip_encrypted").order_by("-created_at")[:5]
        return render(request, "history/export_page.html", {"recent": recent})
    if extension not in export.FORMATS:
        return HttpResponseBadRequest(
            f"Unknown format {extension[:20]!r}: use format=json, format=html or format=csv.")
    document = export.export_document(user.id)
    return attachment(export.RENDERERS[extension](document),
                      export.file_name(document, extension), extension)


def own_export(request: HttpRequest, export_id: uuid.UUID) -> HistoryExport:
    """The user's own export, or 404 (someone else's is as absent as one never made)."""
    job = export.own_export(request.user.id, export_id)
    if job is None:
        raise Http404("No such export.")
    return job


@login_required
@require_GET
def export_progress(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    job = own_export(request, export_id)
    return render(request, "history/progress.html", {"job": job})


def status_of(job: HistoryExport) -> dict[str, object]:
    ready = job.status == HistoryExport.Status.READY
    return {
        "status": job.status, "progress": job.progress, "error": job.error or None,
        "expires_at": iso_utc(job.expires_at) if ready else None,
        "download": reverse("export_download", args=[job.pk]) if ready else None,
    }


@login_required
@require_GET
def export_status(request: HttpRequest, export_id: uuid.UUID) -> JsonResponse:
    job = export.own_export(request.user.id, export_id)
    if job is None:
        return JsonResponse({"error": "no such export"}, status=404)
    return JsonResponse(status_of(job))


@login_required
@require_GET
def export_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    job = own_export(request, export_id)
    data = export.downloadable_zip(request.user.id, export_id)
    if data is None:
        status = 410 if job.status == HistoryExport.Status.READY else 409
        return HttpResponse("This download link has expired; build a new export."
                            if status == 410 else "This export is not ready.",
                            status=status, content_type="text/plain; charset=utf-8")
    name = f"chat-record-{job.created_at:%Y-%m-%d}-{str(job.pk)[:8]}.zip"
    return attachment(data, name, "zip")
