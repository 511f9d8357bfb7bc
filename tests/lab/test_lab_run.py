"""The lab end to end in a tiny configuration, its atomic output and its error messages."""

import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from relukit import cli  # noqa: E402
from relukit.lab import experiments, run  # noqa: E402
from relukit.lab.experiments import LabConfig  # noqa: E402

TINY = LabConfig(activations=("sigmoid", "tanh", "relu", "leaky_relu", "rrelu"), seeds=1,
                 epochs=2,
                 width=16, depth=2, flow_depth=6, flow_width=16, flow_batch=64,
                 dying_activations=("relu", "leaky_relu"), dying_epochs=2, dying_depth=2,
                 memory_batch=32)


def test_unknown_activation_lists_valid_names(tmp_path, capsys):
    code = cli.main(["lab", "--out", str(tmp_path / "r"), "--activations", "relu,swishy"])
    assert code == 2
    err = capsys.readouterr().err
    assert "swishy" in err and "Valid names" in err and "leaky_relu" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda_says_so(tmp_path, capsys):
    assert cli.main(["lab", "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_seeds_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="--seeds"):
        run.run_lab(tmp_path / "r", seeds=0, show_progress=False)


def test_out_that_is_not_a_report_is_refused_before_any_work(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("no experiment may run")

    monkeypatch.setattr(experiments, "gradient_flow", never)
    precious = tmp_path / "project"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="not a relukit report"):
        run.run_lab(precious, config=TINY, show_progress=False)
    assert (precious / "notes.txt").read_text() == "keep"
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert cli.main(["lab", "--out", str(afile)]) == 2
    assert afile.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "project"]


def test_crelu_is_refused_with_the_usable_names(capsys):
    assert cli.main(["lab", "--activations", "relu,crelu"]) == 2
    err = capsys.readouterr().err
    assert "crelu" in err and "leaky_relu" in err


def test_failed_run_leaves_previous_report_untouched(tmp_path, monkeypatch):
    out = tmp_path / "report"
    out.mkdir()
    (out / run.MARKER).write_text("")
    (out / "index.html").write_text("previous")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # an interrupted run, mid-way

    monkeypatch.setattr(experiments, "convergence", boom)
    with pytest.raises(KeyboardInterrupt):
        run.run_lab(out, config=TINY, show_progress=False)
    assert (out / "index.html").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temp folder left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "report"
    out.mkdir()
    (out / run.MARKER).write_text("")  # a previous report: it may be replaced
    (out / "stale.txt").write_text("from an older run")
    index = run.run_lab(out, config=TINY, show_progress=False)
    return out, index


def test_report_has_every_section(tiny_report):
    out, index = tiny_report
    assert index == out / "index.html"
    page = index.read_text()
    for heading in ("Verdicts", "1. Atlas", "2. Gradient flow", "3. Convergence",
                    "4. Dying ReLU", "5. Sparsity", "6. Memory"):
        assert heading in page, heading
    assert "src=\"data:image/png;base64," in page  # self-contained
    assert not (out / "stale.txt").exists()  # replaced as a whole
    assert (out / run.MARKER).exists()
    assert out.stat().st_mode & 0o055 == 0o055 & ~_umask()  # readable by others, as mkdir
    for name in ("results.json", "convergence.csv", "gradient_flow.csv", "dying.csv",
                 "sparsity.csv", "memory.csv", "atlas.png", "gradient_flow.png",
                 "convergence_accuracy.png", "dying.png", "sparsity.png", "memory.png"):
        assert (out / name).is_file(), name


def test_results_json_holds_verdicts_built_from_its_numbers(tiny_report):
    out, _ = tiny_report
    results = json.loads((out / "results.json").read_text())
    assert len(results["verdicts"]) == 7
    flow = results["gradient_flow"]["grad_norms"]
    ratio = flow["sigmoid"][0] / flow["sigmoid"][-1]
    vanishing = results["verdicts"][0]
    assert f"{ratio:.1e}x" in vanishing["sentence"]
    conv = results["convergence"]["runs"]["relu"][0]
    assert len(conv["test_accuracy"]) == TINY.epochs
    assert all(0.0 <= a <= 1.0 for a in conv["test_accuracy"])
    for act in TINY.activations:
        assert results["memory"]["models"][act]["outputs_identical"] is True
    # torch's leaky_relu keeps its whole input for backward, relukit's one bit per element
    leaky = results["memory"]["models"]["leaky_relu"]
    assert leaky["relukit_bytes"] < 0.9 * leaky["torch_bytes"]


def test_same_seed_same_numbers(tmp_path, tiny_report):
    out, _ = tiny_report
    again = tmp_path / "again"
    run.run_lab(again, config=TINY, show_progress=False)
    first = json.loads((out / "results.json").read_text())
    second = json.loads((again / "results.json").read_text())
    for key in ("gradient_flow", "convergence", "dying"):
        assert first[key] == second[key], key
