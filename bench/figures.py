"""Medians, spreads and number formatting shared by bench/report.py and bench/analysis.py, so a
figure reads the same in a table and in the prose that argues from it."""
import statistics


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return ""
    return f" [{fmt(min(values))}–{fmt(max(values))}]"


def fmt(v, digits=None):
    if v is None:
        return "–"
    if digits is not None:
        return f"{v:,.{digits}f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def met(ok):
    return "**met**" if ok else "**not met**"


def ok_runs(runs):
    return [r for r in runs if "error" not in r]
