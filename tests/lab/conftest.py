import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from relukit.lab.config import LabConfig  # noqa: E402

#: A configuration small enough for unit tests (seconds), with every section enabled.
TINY = LabConfig(activations=("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "rrelu"),
                 seeds=2, depth=2, width=16, lrs=(0.1,), epochs=1, cnn_epochs=1,
                 cnn_channels=4, flow_depth=4, flow_width=16, flow_batch=64, dying_epochs=2,
                 dying_depth=2, narrow_depth=4, memory_batch=32, born_dead_draws=200,
                 born_dead_grid=5, selu_width=32, selu_layers=10, he_width=32, he_layers=10,
                 paper_draws=2, explode_depth=4, explode_width=16, explode_epochs=1,
                 output_epochs=1, regression_steps=20, cost_elements=4096, cost_repeats=3,
                 step_repeats=2)


@pytest.fixture(scope="session")
def tiny_config():
    return TINY


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory):
    from relukit.lab import run

    out = tmp_path_factory.mktemp("lab") / "report"
    out.mkdir()
    (out / run.MARKER).write_text("")  # a previous report: it may be replaced
    (out / "stale.txt").write_text("from an older run")
    index = run.run_lab(out, config=TINY, show_progress=False)
    return out, index
