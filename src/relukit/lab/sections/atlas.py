"""The atlas: f and f' of every activation, and sliders to play with the parametrised ones."""

from __future__ import annotations

import json
from pathlib import Path

from ... import catalogue
from .. import plots
from ..section import Context, Figure, Section

#: Parametrised activations the page lets the reader change: parameter -> (min, max, step).
#: The page computes f and f' in JavaScript (``interactive.ACTIVATIONS_JS``); a browser test
#: checks them against the catalogue.
EXPLORER: dict[str, dict[str, tuple[float, float, float]]] = {
    "leaky_relu": {"negative_slope": (0.0, 1.0, 0.01)},
    "prelu": {"weight": (-0.5, 1.0, 0.01)},
    "rrelu": {"lower": (0.0, 0.5, 0.01), "upper": (0.0, 1.0, 0.01)},
    "elu": {"alpha": (0.1, 3.0, 0.05)},
    "celu": {"alpha": (0.1, 3.0, 0.05)},
    "softplus": {"beta": (0.1, 5.0, 0.05)},
    "hardtanh": {"min_val": (-3.0, 0.0, 0.1), "max_val": (0.0, 3.0, 0.1)},
}


class Atlas(Section):
    id = "atlas"
    title = "Atlas: the functions and their derivatives"
    shows = ("Each activation f (solid) and its derivative f' (dashed) on [-6, 6]. The "
             "derivative is what backpropagation multiplies the gradient by at every layer.")
    look_for = ("Where f' is 0 the unit passes no gradient back (ReLU for x &lt; 0); where it is "
                "small (sigmoid's tails, at most 0.25 anywhere) gradients shrink layer after "
                "layer. Move the sliders below: a Leaky ReLU's slope lifts f' off 0 on the "
                "negative side; ELU's alpha sets how deep it saturates.")

    def run(self, ctx: Context, advance) -> dict:
        advance()
        return {"activations": list(ctx.cfg.activations)}

    def figures(self, result, out: Path) -> list[Figure]:
        paths = plots.atlas(out, result["activations"])
        return [Figure("fig-atlas", paths[-1], "f (solid) and f' (dashed) of each activation "
                       "the lab trains; one PNG per activation is in the report folder.")]

    def html(self, result) -> str:
        from ..interactive import have_plotly

        if not have_plotly():
            return ("<p class='note'>Install the <code>lab</code> extra (plotly) for the "
                    "interactive explorer.</p>")
        blocks = []
        for name, params in EXPLORER.items():
            act = catalogue.get(name)
            defaults = {p.name: p.default for p in act.params}
            sliders = []
            for p, (lo, hi, step) in params.items():
                v = float(defaults[p])
                # a range input snaps its value to min + k * step: a default off that grid
                # (RReLU's 1/3) would be drawn as another function, so such a slider is free
                on_grid = abs(lo + round((v - lo) / step) * step - v) < 1e-12
                step_attr = step if on_grid else "any"
                sliders.append(
                    f"<label>{p} = <output id='explore-{name}-{p}-value'>{v:g}</output>"
                    f"<input type='range' id='explore-{name}-{p}' data-param='{p}' "
                    f"min='{lo}' max='{hi}' step='{step_attr}' value='{v}'></label>")
            blocks.append(
                f"<div class='explorer' data-act='{name}'><h4>{act.title}: "
                f"<code>{act.formula}</code></h4>{''.join(sliders)}"
                f"<div class='explore-plot' id='explore-{name}'></div></div>")
        return ("<h3>Play with the parameters</h3><p>Each slider redraws f (solid) and f' "
                "(dashed) in the page.</p><div class='explorers'>" + "".join(blocks)
                + "</div><script type='application/json' id='explorer-spec'>"
                + json.dumps({k: list(v) for k, v in EXPLORER.items()}) + "</script>")
