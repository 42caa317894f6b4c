"""The moderator queue in Django admin.

Reports are read, never edited: a moderator decides with the actions (dismiss, warn, mute,
temporary ban, permanent ban), each asking for a reason on an intermediate page, and the
rules in `moderation.decisions` write the audit log. Nobody, superusers included, may change
or delete a decision.
"""
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from moderation.bans import active_ban, active_mute, ban_durations, mute_durations
from moderation.decisions import REASON_MAX_LENGTH, DecisionError, decide_appeal, decide_report
from moderation.models import Appeal, Ban, Decision, Mute, Report
from moderation.priority import reporter_weight


class DecisionForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
                             max_length=REASON_MAX_LENGTH,
                             help_text="Goes to the audit log and is shown to the user.")

    def __init__(self, *args: Any, durations: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if durations:
            self.fields["duration"] = forms.ChoiceField(
                choices=[(d, d) for d in durations], widget=forms.RadioSelect)


def ask_reason_then(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet,
                    title: str, durations: list[str] | None, apply: Any,
                    describe: Any = str) -> HttpResponse | None:
    """Show the reason page; once it is posted back, call `apply(obj, reason, duration)`
    for each selected object and report what was refused."""
    bound = "apply" in request.POST
    form = DecisionForm(request.POST if bound else None, durations=durations)
    if bound and form.is_valid():
        done = 0
        for obj in queryset:
            try:
                apply(obj, form.cleaned_data["reason"], form.cleaned_data.get("duration"))
                done += 1
            except DecisionError as error:
                model_admin.message_user(request, f"{obj}: {error}", messages.ERROR)
        if done:
            model_admin.message_user(request, f"{title}: {done} done.", messages.SUCCESS)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "objects": [(obj.pk, describe(obj)) for obj in queryset],
        "form": form,
        "action": request.POST.get("action"),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/moderation/decide.html", context)


class DefaultOpenStatusFilter(admin.SimpleListFilter):
    """Status filter that shows the open items unless asked otherwise: the queue."""

    title = "status"
    parameter_name = "status"
    statuses: tuple[tuple[str, str], ...] = ()

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin
                ) -> list[tuple[str, str]]:
        return [*self.statuses, ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {"selected": value == lookup, "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or "open"
        return queryset if value == "all" else queryset.filter(status=value)


class ReportStatusFilter(DefaultOpenStatusFilter):
    statuses = tuple(Report.Status.choices)


class AppealStatusFilter(DefaultOpenStatusFilter):
    statuses = tuple(Appeal.Status.choices)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def handle(user: Any) -> str:
    return user.username if user else "(deleted)"


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("score", "reason", "reported_who", "reporter_who", "status", "filed",
                    "lines")
    list_display_links = ("score", "reason")
    list_filter = (ReportStatusFilter, "reason")
    list_select_related = ("reporter", "reported")
    ordering = ("-priority", "created_at")
    search_fields = ("reported_handle", "reporter_handle")
    # The case panel above shows the rest (templates/admin/moderation/report/change_form.html).
    fieldsets = (("Details", {"fields": ("conversation_id", "classifier_score", "created_at",
                                         "resolved_at")}),)
    readonly_fields = ("conversation_id", "classifier_score", "created_at", "resolved_at")
    actions = ("dismiss", "warn", "mute", "temporary_ban", "permanent_ban")

    @admin.display(description="reported", ordering="reported_handle")
    def reported_who(self, report: Report) -> str:
        return report.reported_name

    @admin.display(description="reporter", ordering="reporter_handle")
    def reporter_who(self, report: Report) -> str:
        return report.reporter_name

    @admin.display(description="priority", ordering="priority")
    def score(self, report: Report) -> str:
        return f"{report.priority:g}"

    @admin.display(description="filed", ordering="created_at")
    def filed(self, report: Report) -> str:
        if (timezone.now() - report.created_at).total_seconds() < 60:
            return "just now"
        return f"{timesince(report.created_at, depth=1)} ago"

    @admin.display(description="lines")
    def lines(self, report: Report) -> int:
        return len(report.evidence or [])

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("moderation.decide_report")

    def decide(self, request: HttpRequest, queryset: QuerySet, action: str,
               durations: list[str] | None = None) -> HttpResponse | None:
        label = Decision.Action(action).label

        def apply(report: Report, reason: str, duration: str | None) -> None:
            decide_report(report.pk, request.user.pk, action, reason, duration)

        return ask_reason_then(self, request, queryset, label.capitalize(), durations, apply,
                               describe=describe_report)

    @admin.action(permissions=["decide"], description="Dismiss (no action against the user)")
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.decide(request, queryset, Decision.Action.DISMISS)

    @admin.action(permissions=["decide"], description="Warn the reported user")
    def warn(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.decide(request, queryset, Decision.Action.WARN)

    @admin.action(permissions=["decide"], description="Mute the reported user for a while")
    def mute(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.decide(request, queryset, Decision.Action.MUTE, list(mute_durations()))

    @admin.action(permissions=["decide"], description="Ban the reported user for a while")
    def temporary_ban(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.decide(request, queryset, Decision.Action.TEMPORARY_BAN,
                           list(ban_durations()))

    @admin.action(permissions=["decide"], description="Ban the reported user permanently")
    def permanent_ban(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.decide(request, queryset, Decision.Action.PERMANENT_BAN)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        report = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if report is not None:
            extra.update(case_context(report))
            extra["can_decide"] = (report.status == Report.Status.OPEN
                                   and self.has_decide_permission(request))
            extra["decision_buttons"] = [
                (name, Decision.Action(name).label) for name in self.actions]
            extra["action_checkbox_name"] = ACTION_CHECKBOX_NAME
        return super().change_view(request, object_id, form_url, extra)


def describe_report(report: Report) -> str:
    return (f"{report.get_reason_display()} report against {report.reported_name} "
            f"(by {report.reporter_name}, priority {report.priority:g})")


def case_context(report: Report) -> dict[str, Any]:
    """Everything a moderator needs on the report page besides the report itself."""
    earlier_reports: list[Report] = []
    earlier_decisions: list[Decision] = []
    ban = mute_until = None
    if report.reported_id:
        earlier_reports = list(Report.objects.filter(reported_id=report.reported_id)
                               .exclude(pk=report.pk).select_related("reporter")
                               .order_by("-created_at")[:20])
        earlier_decisions = list(Decision.objects.filter(subject_id=report.reported_id)
                                 .select_related("moderator").order_by("-created_at")[:20])
        ban = active_ban(report.reported_id)
        mute_until = active_mute(report.reported_id)
    return {
        "report": report,
        "reported_handle": report.reported_name,
        "reporter_handle": report.reporter_name,
        "evidence": report.evidence or [],
        "earlier_reports": earlier_reports,
        "earlier_decisions": earlier_decisions,
        "active_ban": ban,
        "active_mute": mute_until,
        "reporter_weight": round(reporter_weight(report.reporter_id), 2),
    }


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    """The audit log: read only, for everyone."""

    list_display = ("when", "action", "subject_handle", "moderator_handle", "reason", "ends",
                    "report_link")
    list_filter = ("action",)
    list_select_related = ("moderator",)
    search_fields = ("subject_handle", "moderator__username", "reason")
    fields = ("created_at", "action", "subject_handle", "moderator_handle", "reason", "until",
              "report_link", "reviews")
    readonly_fields = fields

    @admin.display(description="when", ordering="created_at")
    def when(self, decision: Decision) -> str:
        return decision.created_at.strftime("%Y-%m-%d %H:%M")

    @admin.display(description="until", ordering="until")
    def ends(self, decision: Decision) -> str:
        return decision.until.strftime("%Y-%m-%d %H:%M") if decision.until else "-"

    @admin.display(description="moderator")
    def moderator_handle(self, decision: Decision) -> str:
        return handle(decision.moderator) if decision.moderator_id else "(system)"

    @admin.display(description="report")
    def report_link(self, decision: Decision) -> str:
        if not decision.report_id:
            return "-"
        return format_html('<a href="{}">report {}</a>',
                           reverse("admin:moderation_report_change", args=[decision.report_id]),
                           decision.report_id)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    """Appeals, each for a moderator other than the one who decided."""

    list_display = ("created_at", "appellant_handle", "decision", "decided_by", "status")
    list_filter = (AppealStatusFilter,)
    list_select_related = ("appellant", "decision", "decision__moderator")
    fields = ("created_at", "appellant_handle", "decision", "decision_reason", "decided_by",
              "text", "status", "reviewed_by", "reviewed_at")
    readonly_fields = fields
    actions = ("grant", "reject")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A moderator never reviews an appeal against their own decision.
        return super().get_queryset(request).exclude(decision__moderator_id=request.user.pk)

    @admin.display(description="appellant")
    def appellant_handle(self, appeal: Appeal) -> str:
        return handle(appeal.appellant)

    @admin.display(description="decided by")
    def decided_by(self, appeal: Appeal) -> str:
        return handle(appeal.decision.moderator) if appeal.decision.moderator_id else "-"

    @admin.display(description="reason given")
    def decision_reason(self, appeal: Appeal) -> str:
        return appeal.decision.reason

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("moderation.review_appeal")

    def review(self, request: HttpRequest, queryset: QuerySet, grant: bool
               ) -> HttpResponse | None:
        def apply(appeal: Appeal, reason: str, duration: str | None) -> None:
            decide_appeal(appeal.pk, request.user.pk, grant, reason)

        title = "Grant the appeal (lift the decision)" if grant else "Reject the appeal"
        return ask_reason_then(self, request, queryset, title, None, apply,
                               describe=describe_appeal)

    @admin.action(permissions=["review"], description="Grant: lift the decision")
    def grant(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.review(request, queryset, grant=True)

    @admin.action(permissions=["review"], description="Reject: the decision stands")
    def reject(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self.review(request, queryset, grant=False)


def describe_appeal(appeal: Appeal) -> str:
    return (f"{handle(appeal.appellant)} appeals: {appeal.decision.get_action_display()} "
            f"({appeal.decision.reason[:80]})")


class RestrictionAdmin(ReadOnlyAdmin):
    list_display = ("user_handle", "until", "reason", "created_at", "lifted_at")
    list_select_related = ("user",)
    fields = ("user_handle", "until", "reason", "created_at", "lifted_at", "decision")
    readonly_fields = fields
    search_fields = ("user__username",)

    @admin.display(description="user")
    def user_handle(self, restriction: Ban | Mute) -> str:
        return handle(restriction.user)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


admin.site.register(Ban, RestrictionAdmin)
admin.site.register(Mute, RestrictionAdmin)
