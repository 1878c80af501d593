"""Layout primitives of a 16:9 slide: canvas, type sizes and colours, text placed in
inches, wrapping, the title/footer chrome, and the check that nothing runs off a slide or
overlaps."""

from __future__ import annotations

import io as _io

SLIDE_W, SLIDE_H = 40.0 / 3.0, 7.5  # inches: exactly 960 x 540 pt
TITLE_PT, SUBTITLE_PT, BODY_PT, TEXT_PT, FOOTER_PT = 32.0, 21.0, 24.0, 21.0, 14.0
MARGIN = 0.5  # left and right, inches
TOP_BAND = 1.35  # title and subtitle
FOOT_BAND = 0.6  # footer
INK, MUTED, ACCENT, RULE = "#1d2731", "#4a5560", "#0b5f8a", "#c9d1d8"


# --------------------------------------------------------------------------- helpers


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """"1 patient", "76 patients" ("study"/"studies" with ``plural``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _ci(lo: float | None, hi: float | None, digits: int = 1) -> str:
    if lo is None or hi is None:
        return "n/a"
    return f"{100 * lo:.{digits}f}\u2013{100 * hi:.{digits}f}%"


def _renderer(fig):
    """The figure's Agg renderer (a bare ``Figure`` gets an Agg canvas first)."""
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _text_width(fig, text: str, size: float, weight: str = "normal") -> float:
    """Width in inches of ``text`` set at ``size`` pt (measured by the renderer)."""
    from matplotlib.font_manager import FontProperties

    w, _, _ = _renderer(fig).get_text_width_height_descent(
        text, FontProperties(size=size, weight=weight), ismath=False)
    return w / fig.dpi


def _wrap(fig, text: str, width_in: float, size: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap to ``width_in`` inches (a single word wider than that overhangs)."""
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split(" "):
            trial = f"{cur} {word}" if cur else word
            if cur and _text_width(fig, trial, size, weight) > width_in:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        lines.append(cur)
    return lines


def _line(size: float, spacing: float = 1.25) -> float:
    """Line height in inches for ``size`` pt text."""
    return size * spacing / 72.0


def _new_slide():
    from matplotlib.figure import Figure

    return Figure(figsize=(SLIDE_W, SLIDE_H))


def _text(fig, x_in: float, y_in: float, s: str, size: float, **kw):
    """Text placed in inches from the slide's bottom left."""
    kw.setdefault("color", INK)
    kw.setdefault("gid", "body")
    return fig.text(x_in / SLIDE_W, y_in / SLIDE_H, s, fontsize=size, **kw)


def _chrome(fig, number: int, total: int, title: str, subtitle: str, footer: str) -> None:
    """Title, subtitle, rule and footer of a slide."""
    from matplotlib.lines import Line2D

    _text(fig, MARGIN, SLIDE_H - 0.3, title, TITLE_PT, fontweight="bold", va="top", color=ACCENT,
          gid="chrome")
    if subtitle:
        _text(fig, MARGIN, SLIDE_H - 0.88, subtitle, SUBTITLE_PT, va="top", color=MUTED, gid="chrome")
    y_rule = SLIDE_H - TOP_BAND + 0.08
    fig.add_artist(Line2D([MARGIN / SLIDE_W, 1 - MARGIN / SLIDE_W], [y_rule / SLIDE_H] * 2,
                          color=ACCENT, lw=2.0))
    fig.add_artist(Line2D([MARGIN / SLIDE_W, 1 - MARGIN / SLIDE_W], [(FOOT_BAND - 0.12) / SLIDE_H] * 2,
                          color=RULE, lw=1.0))
    _text(fig, MARGIN, 0.24, footer, FOOTER_PT, va="center", color=MUTED, gid="chrome")
    _text(fig, SLIDE_W - MARGIN, 0.24, f"{number} / {total}", FOOTER_PT, va="center", ha="right",
          color=MUTED, gid="chrome")


def _drawn_texts(fig) -> list:
    """Every text of the figure that is drawn (not empty, visible, not a tick label of an
    axes drawn without its axis)."""
    from matplotlib.text import Text

    hidden = {id(t) for ax in fig.axes if not ax.axison
              for axis in (ax.xaxis, ax.yaxis)
              for t in [*axis.get_ticklabels(which="both"), axis.label, axis.offsetText]}
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def _check_layout(fig, name: str) -> None:
    """Raise if a text runs off the slide, if a body text enters the title or footer band, or
    if two body texts overlap (what a presenter would otherwise discover in front of the room)."""
    renderer = _renderer(fig)
    fig.draw_without_rendering()  # positions of axis labels and legends are set at draw time
    dpi = fig.dpi
    w, h = fig.bbox.width, fig.bbox.height
    lo, hi = (FOOT_BAND - 0.12) * dpi, (SLIDE_H - TOP_BAND + 0.08) * dpi
    for t in _drawn_texts(fig):
        bb = t.get_window_extent(renderer=renderer)
        if bb.x0 < -1 or bb.y0 < -1 or bb.x1 > w + 1 or bb.y1 > h + 1:
            raise ValueError(f"slide {name}: text {t.get_text()[:40]!r} runs off the slide")
        if t.get_gid() != "chrome" and (bb.y0 < lo - 1 or bb.y1 > hi + 1):
            raise ValueError(f"slide {name}: text {t.get_text()[:40]!r} enters the title or footer")
    body = [(t, t.get_window_extent(renderer=renderer).padded(-1)) for t in fig.texts
            if t.get_gid() == "body" and t.get_text().strip()]
    for i, (t, bb) in enumerate(body):
        for u, cc in body[i + 1:]:
            if bb.overlaps(cc):
                raise ValueError(f"slide {name}: {t.get_text()[:30]!r} overlaps {u.get_text()[:30]!r}")


def _embed_report_figure(slide, fig_report) -> None:
    """Fallback when a figure does not fit in slide type: the report-style figure drawn as
    an image into the slide's content area (keeps its aspect ratio)."""
    import matplotlib.image as mpimg

    buf = _io.BytesIO()
    fig_report.savefig(buf, format="png", dpi=200)
    buf.seek(0)
    img = mpimg.imread(buf)
    h_avail = SLIDE_H - TOP_BAND - FOOT_BAND - 0.1
    w_avail = SLIDE_W - 2 * MARGIN
    aspect = img.shape[1] / img.shape[0]
    w = min(w_avail, h_avail * aspect)
    h = w / aspect
    ax = slide.add_axes(((SLIDE_W - w) / 2 / SLIDE_W, (FOOT_BAND + (h_avail - h) / 2) / SLIDE_H,
                         w / SLIDE_W, h / SLIDE_H))
    ax.imshow(img, interpolation="antialiased")
    ax.set_axis_off()


def _hline(fig, y_in: float, colour: str = RULE, lw: float = 1.0) -> None:
    from matplotlib.lines import Line2D

    fig.add_artist(Line2D([MARGIN / SLIDE_W, 1 - MARGIN / SLIDE_W], [y_in / SLIDE_H] * 2, color=colour,
                          lw=lw))
