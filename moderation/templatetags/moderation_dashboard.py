from typing import Any

from django import template

from moderation.dashboard import moderation_figures

register = template.Library()

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 560, 180, 16, 150


@register.inclusion_tag("admin/moderation/dashboard.html", takes_context=True)
def moderation_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    if not request.user.has_perm("moderation.view_report"):
        return {"show": False}
    figures = moderation_figures()
    days = figures["days"]
    peak = max([1] + [max(d["reports"], d["decisions"]) for d in days])
    slot = CHART_WIDTH / len(days)
    scale = (CHART_BOTTOM - CHART_TOP) / peak
    bars = []
    for i, day in enumerate(days):
        x = i * slot
        bars.append({
            **day,
            "label": day["day"].strftime("%d %b"),
            # Every other day, counted back from today, so that today is always labelled.
            "labelled": (len(days) - 1 - i) % 2 == 0,
            "x_reports": round(x + slot * 0.12, 1),
            "x_decisions": round(x + slot * 0.5, 1),
            "x_label": round(x + slot / 2, 1),
            "width": round(slot * 0.38, 1),
            "h_reports": round(day["reports"] * scale, 1),
            "h_open": round(day["open"] * scale, 1),
            "h_decisions": round(day["decisions"] * scale, 1),
            "y_reports": round(CHART_BOTTOM - day["reports"] * scale, 1),
            "y_open": round(CHART_BOTTOM - day["open"] * scale, 1),
            "y_decisions": round(CHART_BOTTOM - day["decisions"] * scale, 1),
        })
    return {"show": True, **figures, "bars": bars, "peak": peak, "width": CHART_WIDTH,
            "height": CHART_HEIGHT, "baseline": CHART_BOTTOM, "top": CHART_TOP,
            "label_y": CHART_BOTTOM + 18}
