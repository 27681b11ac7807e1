"""Charts as inline SVG, drawn in Python (no JavaScript library, no network).

Each function returns an SVG string. Every text that may come from a log is escaped here
with :func:`html.escape` (the template marks the result safe), and passed through
:func:`clean` first so control characters are visible rather than obeyed.
"""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import Iterable, Sequence

from .text import clean

ACTION_COLOURS = {"drop": "#c0392b", "reject": "#e67e22", "accept": "#2e8b57", "other": "#7f8c8d"}
PALETTE = ["#2c6fbb", "#d1495b", "#edae49", "#00798c", "#8e6c8a", "#66a182", "#e07a5f", "#3d405b",
           "#81b29a", "#a0a0a0"]
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"'


def _t(s: object, limit: int = 60) -> str:
    return escape(clean(s, limit), quote=True)


def colour_for(key: str, keys: Sequence[str]) -> str:
    if key in ACTION_COLOURS:
        return ACTION_COLOURS[key]
    try:
        return PALETTE[list(keys).index(key) % len(PALETTE)]
    except ValueError:
        return PALETTE[-1]


def _fmt_time(epoch: float, width: float) -> str:
    d = datetime.fromtimestamp(epoch, timezone.utc)
    if width >= 86400:
        return d.strftime("%Y-%m-%d")
    return d.strftime("%m-%d %H:%M" if width >= 60 else "%H:%M:%S")


def stacked_timeline(buckets: list[tuple[float, str, int]], start: float, width: float, nbins: int,
                     title: str, keys: Sequence[str] | None = None, w: int = 880, h: int = 170) -> str:
    """Stacked bars: buckets = [(bin index, series key, count)]; bin i covers start + i*width."""
    if not buckets:
        return ""
    keys = list(keys or sorted({k for _, k, _ in buckets}))
    per_bin: dict[int, dict[str, int]] = {}
    for b, k, n in buckets:
        per_bin.setdefault(int(b), {})[k] = per_bin.get(int(b), {}).get(k, 0) + int(n)
    peak = max(sum(v.values()) for v in per_bin.values()) or 1
    left, right, top, bottom = 46, 10, 22, 34
    pw, ph = w - left - right, h - top - bottom
    bw = pw / max(nbins, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" {FONT} '
           f'font-size="11"><title>{_t(title, 120)}</title>',
           f'<text x="{left}" y="14" font-weight="600">{_t(title, 120)}</text>',
           f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>',
           f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" fill="#555">{peak}</text>',
           f'<text x="{left - 4}" y="{top + ph}" text-anchor="end" fill="#555">0</text>']
    for b, series in sorted(per_bin.items()):
        y = top + ph
        for k in keys:
            n = series.get(k, 0)
            if not n:
                continue
            bh = max(1.0, ph * n / peak)
            y -= bh
            out.append(f'<rect x="{left + b * bw:.1f}" y="{y:.1f}" width="{max(bw - 0.5, 0.8):.1f}" '
                       f'height="{bh:.1f}" fill="{colour_for(k, keys)}"><title>{_t(k)}: {n} '
                       f'({_fmt_time(start + b * width, width)})</title></rect>')
    for i in (0, nbins // 2, nbins - 1) if nbins > 2 else (0,):
        anchor = "start" if i == 0 else "end" if i == nbins - 1 else "middle"
        x = left + i * bw + (bw if anchor == "end" else 0)
        out.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="{anchor}" fill="#555">'
                   f'{_t(_fmt_time(start + i * width, width))}</text>')
    lx = left
    for k in keys:
        out.append(f'<rect x="{lx}" y="{h - 11}" width="10" height="10" fill="{colour_for(k, keys)}"/>'
                   f'<text x="{lx + 14}" y="{h - 2}">{_t(k, 24)}</text>')
        lx += 24 + 7 * min(len(clean(k, 24)), 24)
    out.append("</svg>")
    return "".join(out)


def hbars(rows: list[tuple[str, int, str]], title: str, w: int = 430, colour: str = "#2c6fbb") -> str:
    """Horizontal bars: rows = [(label, value, note)]."""
    if not rows:
        return ""
    peak = max(v for _, v, _ in rows) or 1
    lh, top, label_w = 20, 24, 170
    h = top + lh * len(rows) + 6
    pw = w - label_w - 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" {FONT} '
           f'font-size="11"><title>{_t(title, 120)}</title>',
           f'<text x="0" y="14" font-weight="600">{_t(title, 120)}</text>']
    for i, (label, v, note) in enumerate(rows):
        y = top + i * lh
        bw = max(1.0, pw * v / peak)
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_t(label, 28)}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{bw:.1f}" height="{lh - 6}" fill="{colour}">'
                   f'<title>{_t(label, 80)}: {v} {_t(note, 80)}</title></rect>'
                   f'<text x="{label_w + bw + 4:.1f}" y="{y + 13}" fill="#333">{v}</text>')
    out.append("</svg>")
    return "".join(out)


def heatmap(cells: list[tuple[str, int, int]], rows: Sequence[str], title: str, w: int = 880) -> str:
    """Rows (ports) x 24 hour columns; cells = [(row label, hour 0-23, count)]."""
    if not cells or not rows:
        return ""
    peak = max(n for _, _, n in cells) or 1
    left, top, ch = 110, 34, 18
    cw = (w - left - 10) / 24
    h = top + ch * len(rows) + 8
    idx = {r: i for i, r in enumerate(rows)}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" {FONT} '
           f'font-size="11"><title>{_t(title, 120)}</title>',
           f'<text x="0" y="14" font-weight="600">{_t(title, 120)}</text>']
    for hr in range(24):
        out.append(f'<text x="{left + hr * cw + cw / 2:.1f}" y="{top - 4}" text-anchor="middle" fill="#555">'
                   f'{hr:02d}</text>')
    for r, i in idx.items():
        out.append(f'<text x="{left - 6}" y="{top + i * ch + 13}" text-anchor="end">{_t(r, 18)}</text>'
                   f'<rect x="{left}" y="{top + i * ch}" width="{cw * 24:.1f}" height="{ch - 2}" fill="#f3f3f3"/>')
    for r, hr, n in cells:
        if r not in idx:
            continue
        op = 0.15 + 0.85 * (n / peak)
        out.append(f'<rect x="{left + int(hr) * cw:.1f}" y="{top + idx[r] * ch}" width="{cw - 1:.1f}" '
                   f'height="{ch - 2}" fill="#c0392b" fill-opacity="{op:.2f}"><title>{_t(r)} at '
                   f'{int(hr):02d}h UTC: {n}</title></rect>')
    out.append("</svg>")
    return "".join(out)


def footprint(points: Iterable[tuple[float, int, str]], title: str, w: int = 430, h: int = 210) -> str:
    """A scan footprint: x = time, y = destination port, colour = action."""
    pts = [(t, p, a) for t, p, a in points if t is not None and p is not None]
    if not pts:
        return ""
    t0, t1 = min(p[0] for p in pts), max(p[0] for p in pts)
    p0, p1 = min(p[1] for p in pts), max(p[1] for p in pts)
    tw, pr = (t1 - t0) or 1.0, (p1 - p0) or 1
    left, right, top, bottom = 48, 10, 22, 26
    pw, ph = w - left - right, h - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" {FONT} '
           f'font-size="11"><title>{_t(title, 120)}</title>',
           f'<text x="0" y="14" font-weight="600">{_t(title, 120)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ddd"/>',
           f'<text x="{left - 4}" y="{top + 9}" text-anchor="end" fill="#555">{p1}</text>',
           f'<text x="{left - 4}" y="{top + ph}" text-anchor="end" fill="#555">{p0}</text>',
           f'<text x="{left}" y="{h - 8}" fill="#555">{_t(_fmt_time(t0, tw))}</text>',
           f'<text x="{left + pw}" y="{h - 8}" text-anchor="end" fill="#555">+{tw:.0f} s</text>']
    for t, p, a in pts:
        x = left + pw * (t - t0) / tw
        y = top + ph - ph * (p - p0) / pr
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{ACTION_COLOURS.get(a, "#2c6fbb")}" '
                   f'fill-opacity="0.75"/>')
    out.append("</svg>")
    return "".join(out)
