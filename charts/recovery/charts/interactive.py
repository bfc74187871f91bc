"""Interactive Altair charts for the dashboard, drawn from the frames of frames.py (the same
numbers as the files of figures.py); dates on the x axis, schedule colours fixed by Colours."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import altair as alt
import pandas as pd

from recovery.charts.frames import (
    PART_WORDS,
    diary_frames,
    forecast_frame,
    frontier_frame,
    parts_frame,
    to_dates,
)

__all__ = ["booking_chart", "calibration_chart", "diary_chart", "drift_chart", "fan_chart",
           "frontier_chart", "outcome_chart", "parts_chart"]

Chart = alt.LayerChart | alt.FacetChart  # what .properties() on a layer is typed to return
BANDS = [("q5", "q95", "90 % band"), ("q25", "q75", "50 % band")]


def diary_chart(history: dict[str, Any], same_day: list[dict[str, Any]] | None = None
                ) -> Chart:
    """Scores as points and lines, sessions as coloured rules; a day with several scores shows
    each of them (hollow: not the one forecasts use); hover for the values."""
    pain, sessions = diary_frames(history)
    scale = alt.Scale(domain=[0, 10])
    line = alt.Chart(pain).mark_line(point=True, color="black", strokeWidth=1).encode(
        x=alt.X("date:T", title=None), y=alt.Y("score:Q", scale=scale, title="pain 0-10"),
        tooltip=[alt.Tooltip("date:T", title="date"), alt.Tooltip("score:Q", title="pain")])
    rules = alt.Chart(sessions).mark_rule(opacity=0.5).encode(
        x="date:T", color=alt.Color("kind:N", title="session"),
        tooltip=[alt.Tooltip("date:T", title="session on"), "kind:N"])
    layers: list[Any] = [rules, line]
    others = [{"date": pd.to_datetime(d["date"]), "score": v, "day": d["day"]}
              for d in same_day or [] for v in d["others"]]
    if others:
        layers.append(alt.Chart(pd.DataFrame(others)).mark_point(
            color="crimson", size=60, filled=False).encode(
            x="date:T", y="score:Q",
            tooltip=[alt.Tooltip("date:T", title="also entered on"),
                     alt.Tooltip("score:Q", title="pain (not used)")]))
    return alt.layer(*layers).properties(height=200)


def fan_chart(frame: pd.DataFrame, diary: pd.DataFrame, target: float | None,
              colours: dict[str, str] | None = None, height: int = 420,
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
        scale=alt.Scale(domain=list(colours), range=list(colours.values())) if colours
        else alt.Scale(scheme="tableau10")))
    y = alt.Scale(domain=[0, 10])
    layers: list[Any] = [
        base.mark_area().encode(y=alt.Y(lo, scale=y, title="pain 0-10"), y2=hi,
                                opacity=alt.condition(pick, alt.value(op), alt.value(0.02)))
        for (lo, hi, _), op in zip(BANDS, (0.12, 0.22), strict=True)]
    layers.append(base.mark_line(strokeWidth=2).encode(
        y="median:Q", opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15))
    ).add_params(pick))
    tooltip = [alt.Tooltip("schedule:N"), alt.Tooltip("date:T", title="date"),
               alt.Tooltip("median:Q", format=".1f"),
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


def outcome_chart(outcome: dict[str, Any], start: date, name: str, label: str | None = None
                  ) -> Chart:
    """A past forecast's bands for one schedule (`label`: its name in words) with the scores
    recorded since."""
    sched = next(s for s in outcome["schedules"] if s["name"] == name)
    frame = forecast_frame({"forecasts": [{**sched, "mean": sched["quantiles"]["50"]}]},
                           start, {name: label or name})
    actual = pd.DataFrame(outcome["actual"], columns=["day", "score"])
    actual["date"] = to_dates(start, actual["day"])
    return fan_chart(frame, actual, target=None, height=320).properties(
        title=f"Forecast of {(start + timedelta(days=sched['days'][0])).isoformat()} "
              "and what happened (dots)")


def parts_chart(explained: dict[str, Any], start: date, height: int = 320) -> Chart:
    """What expected pain is made of: the natural course, relief taken off it, soreness added
    on top, and their sum (the forecast's mean) as a line; hover for each part's band."""
    frame = parts_frame(explained, start)
    order = list(PART_WORDS.values())
    colour = alt.Color("part:N", title=None, sort=order, scale=alt.Scale(
        domain=order, range=["#d9d9d9", "#4e79a7", "#76b7b2", "#59a14f", "#e15759", "#b07aa1"]),
        legend=alt.Legend(orient="bottom", columns=3))
    areas = alt.Chart(frame).mark_area(opacity=0.75).encode(
        x=alt.X("date:T", title=None), y=alt.Y("y:Q", scale=alt.Scale(domain=[0, 10]),
                                               title="pain 0-10"), y2="y2:Q", color=colour,
        tooltip=[alt.Tooltip("part:N"), alt.Tooltip("date:T"),
                 alt.Tooltip("value:Q", title="points", format="+.2f"),
                 alt.Tooltip("lo:Q", title="5 % point", format="+.2f"),
                 alt.Tooltip("hi:Q", title="95 % point", format="+.2f")])
    total = pd.DataFrame({"date": to_dates(start, explained["days"]),
                          "total": explained["total"]})
    line = alt.Chart(total).mark_line(color="black", strokeWidth=2).encode(
        x="date:T", y="total:Q", tooltip=[alt.Tooltip("date:T"),
                                          alt.Tooltip("total:Q", title="expected pain",
                                                      format=".1f")])
    today = alt.Chart(pd.DataFrame({"date": to_dates(start, [explained["start_day"]])})
                      ).mark_rule(strokeDash=[3, 3], color="gray").encode(x="date:T")
    return alt.layer(areas, line, today).properties(height=height)


def booking_chart(booked: dict[str, Any], start: date, target: float, height: int = 260
                  ) -> Chart:
    """If sessions stop now: the chance pain is back by each date, the chance of being at the
    target each day, and the latest date to book (a rule)."""
    dates = to_dates(start, booked["days"])
    curves = {f"P(at or below {target:g}) with no sessions": booked["p_target"]}
    if booked["p_returned"] is not None:
        curves["P(pain is back by then)"] = booked["p_returned"]
    frame = pd.concat([pd.DataFrame({"date": dates, "p": v, "curve": k})
                       for k, v in curves.items()], ignore_index=True)
    layers: list[Any] = [alt.Chart(frame).mark_line(strokeWidth=2).encode(
        x=alt.X("date:T", title=None),
        y=alt.Y("p:Q", scale=alt.Scale(domain=[0, 1]), title="probability",
                axis=alt.Axis(format="%")),
        color=alt.Color("curve:N", title=None, legend=alt.Legend(orient="bottom", columns=1,
                                                                 labelLimit=400)),
        tooltip=[alt.Tooltip("curve:N"), alt.Tooltip("date:T"),
                 alt.Tooltip("p:Q", format=".0%")])]
    if booked["book_by_date"] is not None:
        layers.append(alt.Chart(pd.DataFrame({"date": [pd.to_datetime(booked["book_by_date"])],
                                              "label": ["book by"]})).mark_rule(
            color="crimson", strokeWidth=2).encode(x="date:T", tooltip=["label:N", "date:T"]))
    return alt.layer(*layers).properties(height=height)


def frontier_chart(result: dict[str, Any], currency: str, labels: dict[str, str] | None = None,
                   height: int = 360) -> Chart:
    """Cost against expected pain at the horizon (5-95 % range as a rule) for every schedule;
    the non-dominated ones in colour and joined. Clicking a point selects it (`pick`)."""
    frame = frontier_frame(result, labels)
    pick = alt.selection_point(name="pick", fields=["name"], on="click")
    x = alt.X("cost:Q", title=f"cost ({currency})")
    colour = alt.Color("frontier:N", title=None, scale=alt.Scale(
        domain=["not beaten", "beaten"], range=["crimson", "#bbbbbb"]),
        legend=alt.Legend(orient="bottom"))
    base = alt.Chart(frame).encode(x=x, color=colour)
    rules = base.mark_rule(opacity=0.35).encode(y=alt.Y("lo:Q", title="expected pain at the "
                                                        "horizon"), y2="hi:Q")
    line = alt.Chart(frame[frame["frontier"] == "not beaten"]).mark_line(
        color="crimson").encode(x=x, y="pain:Q")
    points = base.mark_circle(size=90).encode(
        y="pain:Q", opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("label:N", title="schedule"), alt.Tooltip("sessions:Q"),
                 alt.Tooltip("cost:Q", title=f"cost ({currency})"),
                 alt.Tooltip("pain:Q", title="expected pain", format=".2f"),
                 alt.Tooltip("lo:Q", title="5 % point", format=".1f"),
                 alt.Tooltip("hi:Q", title="95 % point", format=".1f"),
                 alt.Tooltip("p_target:Q", title="P(at target)", format=".0%")]
    ).add_params(pick)
    return alt.layer(rules, line, points).properties(height=height)


def drift_chart(report: dict[str, Any], height: int = 260) -> Chart:
    """Weekly share of entered scores inside the served model's 50 % and 90 % bands, with the
    shares measured on held-out patients as dashed rules."""
    weeks = pd.DataFrame(report["weeks"])
    frame = pd.concat([pd.DataFrame({"week": pd.to_datetime(weeks["label"]),
                                     "coverage": weeks[f"coverage_{b}"],
                                     "scores": weeks["scores"], "band": f"{b} % band"})
                       for b in ("50", "90")], ignore_index=True)
    colour = alt.Color("band:N", title=None, legend=alt.Legend(orient="bottom"))
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("week:T", title="week of the score"),
        y=alt.Y("coverage:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"),
                title="scores inside the band"), color=colour,
        tooltip=["band:N", alt.Tooltip("week:T"), alt.Tooltip("coverage:Q", format=".0%"),
                 "scores:Q"])
    refs = pd.DataFrame({"coverage": [report["reference_50"], report["reference_90"]],
                         "band": ["50 % band", "90 % band"]})
    rules = alt.Chart(refs).mark_rule(strokeDash=[4, 4]).encode(y="coverage:Q", color=colour)
    return alt.layer(lines, rules).properties(height=height)


def calibration_chart(evaluation: dict[str, Any], height: int = 300) -> Chart:
    """Observed against nominal coverage of held-out scores, one line per method, with the
    diagonal a perfectly calibrated model would follow."""
    rows = [{"method": name, "nominal": float(level), "observed": float(value)}
            for name, scores in evaluation.items()
            for level, value in (scores.get("calibration") or {}).items()]
    frame = pd.DataFrame(rows, columns=["method", "nominal", "observed"])
    axis = alt.Axis(format="%")
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("nominal:Q", scale=alt.Scale(domain=[0, 1]), axis=axis,
                title="nominal coverage of the band"),
        y=alt.Y("observed:Q", scale=alt.Scale(domain=[0, 1]), axis=axis,
                title="held-out scores inside it"),
        color=alt.Color("method:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["method:N", alt.Tooltip("nominal:Q", format=".0%"),
                 alt.Tooltip("observed:Q", format=".0%")])
    diagonal = alt.Chart(pd.DataFrame({"nominal": [0.0, 1.0], "observed": [0.0, 1.0]})
                         ).mark_line(strokeDash=[4, 4], color="gray").encode(
        x="nominal:Q", y="observed:Q")
    return alt.layer(diagonal, lines).properties(height=height)
