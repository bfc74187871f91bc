"""Interactive Altair charts of a forecast and a diary, on the record's calendar (pure)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import altair as alt
import pandas as pd

__all__ = ["diary_chart", "diary_frames", "fan", "forecast_frame", "outcome_chart"]

Chart = alt.LayerChart | alt.FacetChart  # what .properties() on a layer is typed to return
BANDS = [("q5", "q95", "90 % band"), ("q25", "q75", "50 % band")]


def _dates(start: date, days: Any) -> pd.Series:
    return pd.Series(pd.to_datetime(start) + pd.to_timedelta(pd.Series(days, dtype=float), "D"))


def diary_frames(history: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The diary's scores and sessions with their calendar dates."""
    start = date.fromisoformat(history["start_date"])
    pain = pd.DataFrame(history["pain"], columns=["day", "score"])
    pain["date"] = _dates(start, pain["day"])
    sessions = pd.DataFrame(history["sessions"], columns=["day", "kind"])
    sessions["date"] = _dates(start, sessions["day"])
    return pain, sessions


def diary_chart(history: dict[str, Any]) -> Chart:
    """Scores as points and lines, sessions as coloured rules; hover for the values."""
    pain, sessions = diary_frames(history)
    scale = alt.Scale(domain=[0, 10])
    line = alt.Chart(pain).mark_line(point=True, color="black", strokeWidth=1).encode(
        x=alt.X("date:T", title=None), y=alt.Y("score:Q", scale=scale, title="pain 0-10"),
        tooltip=[alt.Tooltip("date:T", title="date"), alt.Tooltip("day:Q", title="day"),
                 alt.Tooltip("score:Q", title="pain")])
    rules = alt.Chart(sessions).mark_rule(opacity=0.5).encode(
        x="date:T", color=alt.Color("kind:N", title="session"),
        tooltip=[alt.Tooltip("date:T", title="session on"), "kind:N"])
    return alt.layer(rules, line).properties(height=200)


def forecast_frame(result: dict[str, Any], start: date, labels: dict[str, str]
                   ) -> pd.DataFrame:
    """One row per schedule and day: median, bands and mean, with the date and a label."""
    frames = []
    for f in result["forecasts"]:
        q = f["quantiles"]
        frames.append(pd.DataFrame({
            "schedule": labels.get(f["name"], f["name"]), "day": f["days"],
            "q5": q["5"], "q25": q["25"], "median": q["50"], "q75": q["75"], "q95": q["95"],
            "mean": f["mean"]}))
    out = pd.concat(frames, ignore_index=True)
    out["date"] = _dates(start, out["day"])
    return out


def fan(frame: pd.DataFrame, diary: pd.DataFrame, target: float | None, height: int = 420,
        legend: bool = True) -> Chart:
    """Median and 50 %/90 % bands per schedule over the diary; hover a day for its numbers,
    click a schedule (or its legend entry) to bring it forward and fade the others. `height`
    includes the legend below."""
    pick = alt.selection_point(fields=["schedule"], bind="legend", on="click")
    hover = alt.selection_point(fields=["date"], nearest=True, on="pointerover", empty=False,
                                clear="pointerout")
    key = alt.Legend(orient="bottom", columns=1, labelLimit=340, symbolOpacity=0.8)
    base = alt.Chart(frame).encode(x=alt.X("date:T", title=None), color=alt.Color(
        "schedule:N", title="schedule", legend=key if legend else None,
        scale=alt.Scale(scheme="tableau10")))
    y = alt.Scale(domain=[0, 10])
    layers: list[Any] = [
        base.mark_area().encode(y=alt.Y(lo, scale=y, title="pain 0-10"), y2=hi,
                                opacity=alt.condition(pick, alt.value(op), alt.value(0.02)))
        for (lo, hi, _), op in zip(BANDS, (0.12, 0.22), strict=True)]
    layers.append(base.mark_line(strokeWidth=2).encode(
        y="median:Q", opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15))
    ).add_params(pick))
    tooltip = [alt.Tooltip("schedule:N"), alt.Tooltip("date:T", title="date"),
               alt.Tooltip("day:Q", title="day"), alt.Tooltip("median:Q", format=".1f"),
               alt.Tooltip("q25:Q", title="50 % band from", format=".1f"),
               alt.Tooltip("q75:Q", title="50 % band to", format=".1f"),
               alt.Tooltip("q5:Q", title="90 % band from", format=".1f"),
               alt.Tooltip("q95:Q", title="90 % band to", format=".1f")]
    layers.append(base.mark_point(size=50, filled=True).encode(
        y="median:Q", opacity=alt.condition(hover, alt.value(1.0), alt.value(0.0)),
        tooltip=tooltip).add_params(hover))
    layers.append(alt.Chart(frame).mark_rule(color="gray").encode(x="date:T").transform_filter(
        hover))
    if target is not None:
        layers.append(alt.Chart(pd.DataFrame({"target": [target]})).mark_rule(
            strokeDash=[4, 4], color="green").encode(y="target:Q"))
    if len(diary):
        layers.append(alt.Chart(diary).mark_circle(color="black", size=18).encode(
            x="date:T", y="score:Q",
            tooltip=[alt.Tooltip("date:T", title="diary"), alt.Tooltip("score:Q")]))
    return alt.layer(*layers).properties(height=height)


def outcome_chart(outcome: dict[str, Any], start: date, name: str) -> Chart:
    """A past forecast's bands for one schedule with the scores recorded since."""
    sched = next(s for s in outcome["schedules"] if s["name"] == name)
    frame = forecast_frame({"forecasts": [{**sched, "mean": sched["quantiles"]["50"]}]},
                           start, {})
    actual = pd.DataFrame(outcome["actual"], columns=["day", "score"])
    actual["date"] = _dates(start, actual["day"])
    return fan(frame, actual, target=None, height=320).properties(
        title=f"Forecast of {(start + timedelta(days=sched['days'][0])).isoformat()} "
              "and what happened (dots)")
