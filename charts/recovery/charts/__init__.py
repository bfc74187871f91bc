"""Charts of the service's JSON, a part of its own that imports no other part: frames.py
shapes the numbers once, figures.py draws them as files (matplotlib), interactive.py for the
screen (Altair). The model's reports, the CLI and the dashboard all draw from here."""

from recovery.charts.figures import save, save_fan_chart

__all__ = ["save", "save_fan_chart"]
