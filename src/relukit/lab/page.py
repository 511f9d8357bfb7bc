"""index.html: a self-contained, offline page built as a loop over the lab's sections."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

from .interactive import ACTIVATIONS_JS, have_plotly, plotly_js
from .section import Figure, Section, Table
from .stats import SE_FACTOR
from .verdicts import Verdict

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:1.5em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:0}.sub{color:#555;margin-top:.3em}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav ol{columns:2;font-size:.95em}
.explain{background:#f5f8ff;border-left:4px solid #6b8cd6;padding:.5em 1em;margin:.8em 0}
.explain p{margin:.3em 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
caption{caption-side:top;text-align:left;color:#444;font-size:.9em;padding:.3em 0}
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}
img{max-width:100%;height:auto;border:1px solid #eee}
.plot{width:100%;min-height:380px;display:none}
.js .plot{display:block}.js figure img.static{display:none}
.verdict{font-weight:bold;white-space:nowrap}
.v-supported,.v-agrees{color:#17702a}.v-partly-supported{color:#a56a00}
.v-not-supported,.v-disagrees{color:#b3261e}.v-tie,.v-inconclusive{color:#555}
.v-not-measured{color:#777;font-style:italic}
.explorers{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:1em}
.explorer{border:1px solid #ddd;padding:.5em;border-radius:6px}
.explorer h4{margin:.2em 0 .4em;font-size:.95em}
.explorer label{display:block;font-size:.9em}.explorer input{width:100%}
.explore-plot{height:300px}
.note{color:#666}
code{background:#f3f3f3;padding:0 .2em;word-break:break-word}
@media (max-width:600px){body{margin:.5em auto;font-size:15px}nav ol{columns:1}}
@media print{
 .plot,.explorers,.explorers+script,nav{display:none!important}
 .js figure img.static,figure img.static{display:block!important}
 body{max-width:none;margin:0;font-size:10pt}
 h2{page-break-before:auto;break-after:avoid}figure,table{break-inside:avoid}
 .scroll{overflow:visible}a{color:inherit;text-decoration:none}
}
"""


def _esc(x) -> str:
    return html.escape(str(x))


def _cell(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return _esc(v)


def table_html(t: Table) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in t.rows)
    cap = f"<caption>{_esc(t.caption)}</caption>" if t.caption else ""
    return f"<div class='scroll'><table>{cap}<thead><tr>{head}</tr></thead>" \
           f"<tbody>{body}</tbody></table></div>"


def figure_html(f: Figure, interactive: bool) -> str:
    data = base64.b64encode(Path(f.path).read_bytes()).decode("ascii")
    parts = [f"<figure id='{f.id}'>"]
    if interactive and f.plotly is not None:
        spec = json.dumps(f.plotly).replace("</", "<\\/")
        parts.append(f"<script type='application/json' id='spec-{f.id}'>{spec}</script>"
                     f"<div class='plot' data-spec='spec-{f.id}'></div>")
    parts.append(f"<img class='static' alt='{_esc(f.caption)}' "
                 f"src='data:image/png;base64,{data}'>")
    hint = (" Hover for values; click a legend entry to hide or show that line; drag to "
            "zoom, double-click to reset.") if interactive and f.plotly else ""
    parts.append(f"<figcaption>{_esc(f.caption)}{hint}</figcaption></figure>")
    return "".join(parts)


def _status_class(status: str) -> str:
    return "v-" + status.replace(" ", "-")


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    rows = []
    for v in verdicts:
        link = f" <a href='#{v.plot}'>see the plot</a>" if v.plot else ""
        rows.append(f"<tr id='verdict-{_esc(v.id)}'><td>{_esc(v.claim)}</td>"
                    f"<td class='verdict {_status_class(v.verdict)}'>{_esc(v.verdict)}</td>"
                    f"<td>{_esc(v.sentence)}{link}</td></tr>")
    return ("<div class='scroll'><table class='verdicts'><thead><tr><th>claim</th>"
            "<th>verdict</th><th>the numbers behind it</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


RULES = (f"<p>How to read the verdicts: every training experiment runs several seeds; an "
         f"accuracy is the mean of a run's last 3 epochs. Two numbers differ only when their "
         f"difference is larger than {SE_FACTOR:g} standard errors of the difference <em>and</em> "
         f"than the claim's stated absolute margin; otherwise the verdict says <b>tie</b>. "
         f"<b>supported</b>: holds in every case tested; <b>partly supported</b>: in some; "
         f"<b>not supported</b>: contradicted; <b>inconclusive</b>: within the margin of its "
         f"threshold; <b>not measured</b>: the run could not test it (e.g. an activation it "
         f"needs was not run). Published results <b>agree</b> when the measured value is within "
         f"its Monte Carlo standard errors of the expected one.</p>")


def write_page(path: Path, *, title: str, subtitle: str,
               sections: Sequence[tuple[Section, object, list[Figure], list[Verdict]]],
               verdicts: Sequence[Verdict]) -> Path:
    interactive = have_plotly()
    toc, body = [], []
    for n, (sec, result, figs, sec_verdicts) in enumerate(sections, start=1):
        toc.append(f"<li><a href='#{sec.id}'>{_esc(sec.title)}</a></li>")
        parts = [f"<section id='{sec.id}'><h2>{n}. {_esc(sec.title)}</h2>",
                 f"<div class='explain'><p><b>What this shows.</b> {sec.shows}</p>"
                 f"<p><b>What to look for.</b> {sec.look_for}</p></div>"]
        parts += [figure_html(f, interactive) for f in figs]
        parts += [table_html(t) for t in sec.tables(result)]
        parts.append(sec.html(result))
        if sec_verdicts:
            parts.append("<h3>Verdicts</h3>" + verdict_table(sec_verdicts))
        parts.append("</section>")
        body.append("".join(parts))
    scripts = ""
    if interactive:
        scripts = (f"<script>{plotly_js()}</script><script>{ACTIVATIONS_JS}</script>")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{CSS}</style>{scripts}</head><body>"
        f"<h1>{_esc(title)}</h1><p class='sub'>{subtitle}</p>"
        f"<nav><b>Sections</b><ol>{''.join(toc)}</ol></nav>"
        f"<h2 id='verdicts'>Verdicts</h2>{RULES}{verdict_table(verdicts)}"
        + "".join(body) + "</body></html>")
    path.write_text(page, encoding="utf-8")
    return path
