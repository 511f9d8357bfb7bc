"""The page's interactive parts: Plotly's offline bundle (from the plotly package, inlined,
no CDN) and the small script that draws the figures and the activation explorer."""

from __future__ import annotations

import functools


@functools.cache
def have_plotly() -> bool:
    try:
        import plotly.offline  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


#: f and f' of the explorer's activations, the catalogue's formulas and conventions
#: (derivative at 0 from the x <= 0 side, as torch).
ACTIVATIONS_JS = r"""
const ACT = {
  leaky_relu: (x, p) => [x > 0 ? x : p.negative_slope * x, x > 0 ? 1 : p.negative_slope],
  prelu: (x, p) => [x > 0 ? x : p.weight * x, x > 0 ? 1 : p.weight],
  rrelu: (x, p) => {
    const a = (p.lower + p.upper) / 2;
    return [x > 0 ? x : a * x, x > 0 ? 1 : a];
  },
  elu: (x, p) => [x > 0 ? x : p.alpha * Math.expm1(x), x > 0 ? 1 : p.alpha * Math.exp(x)],
  celu: (x, p) => [Math.max(0, x) + Math.min(0, p.alpha * Math.expm1(x / p.alpha)),
                   x > 0 ? 1 : Math.exp(x / p.alpha)],
  softplus: (x, p) => {
    const bx = p.beta * x;
    if (bx > 20) return [x, 1];
    const f = (bx > 0 ? bx + Math.log1p(Math.exp(-bx)) : Math.log1p(Math.exp(bx))) / p.beta;
    return [f, 1 / (1 + Math.exp(-bx))];
  },
  hardtanh: (x, p) => [Math.min(Math.max(p.min_val, x), p.max_val),
                       (x > p.min_val && x < p.max_val) ? 1 : 0],
};
const XS = Array.from({length: 241}, (_, i) => -6 + i * 0.05);

function drawExplorer(box) {
  const name = box.dataset.act, params = {};
  box.querySelectorAll("input[type=range]").forEach(s => {
    params[s.dataset.param] = parseFloat(s.value);
    const out = document.getElementById(s.id + "-value");
    if (out) out.textContent = s.value;
  });
  const fy = [], dy = [];
  XS.forEach(x => { const [f, d] = ACT[name](x, params); fy.push(f); dy.push(d); });
  const label = Object.entries(params).map(([k, v]) => k + "=" + v).join(", ");
  Plotly.react(box.querySelector(".explore-plot"), [
    {x: XS, y: fy, name: "f(x)", mode: "lines", line: {width: 2.5}},
    {x: XS, y: dy, name: "f'(x)", mode: "lines", line: {dash: "dash", width: 2}},
  ], {title: {text: name + "(" + label + ")"}, height: 300, margin: {t: 40, l: 40, r: 10, b: 30},
      xaxis: {range: [-6, 6], zeroline: true}, yaxis: {range: [-3, 6], zeroline: true},
      legend: {x: 0.02, y: 0.98}}, {displaylogo: false, responsive: true});
}

function drawAll() {
  if (typeof Plotly === "undefined") return;
  document.documentElement.classList.add("js");
  document.querySelectorAll("div.plot[data-spec]").forEach(div => {
    const spec = JSON.parse(document.getElementById(div.dataset.spec).textContent);
    spec.layout.autosize = true;
    Plotly.newPlot(div, spec.data, spec.layout, {displaylogo: false, responsive: true});
  });
  document.querySelectorAll(".explorer").forEach(box => {
    box.querySelectorAll("input[type=range]").forEach(s =>
      s.addEventListener("input", () => drawExplorer(box)));
    drawExplorer(box);
  });
}
window.addEventListener("DOMContentLoaded", drawAll);
"""
