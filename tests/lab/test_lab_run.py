"""The lab end to end in a tiny configuration, its atomic output, its lock and its errors."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from relukit import cli  # noqa: E402
from relukit.lab import run  # noqa: E402
from relukit.lab.data import digits, standardisation  # noqa: E402
from relukit.lab.sections import SECTIONS  # noqa: E402
from relukit.lab.sections.convergence import Convergence  # noqa: E402


def test_standardised_features_stay_sane():
    d = digits()
    # std + 1e-6 gave constant border pixels a scale of 1e-6: test features of 1e6
    assert float(d.x_train.abs().max()) <= 16.0
    assert float(d.x_test.abs().max()) <= 16.0
    assert torch.isfinite(d.x_test).all()


def test_constant_feature_gets_scale_one():
    x = np.array([[0.0, 1.0, 5.0], [0.0, 3.0, 5.0], [0.0, 5.0, 5.0]])
    mean, scale = standardisation(x)
    assert scale[0] == 1.0 and scale[2] == 1.0
    assert scale[1] == pytest.approx(np.std([1.0, 3.0, 5.0]))
    z = (np.array([[16.0, 3.0, 6.0]]) - mean) / scale
    assert abs(z).max() <= 16.0


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


def test_out_that_is_not_a_report_is_refused_before_any_work(tmp_path, monkeypatch,
                                                              tiny_config):
    def never(*args, **kwargs):
        raise AssertionError("no experiment may run")

    monkeypatch.setattr(run, "run_sections", never)
    precious = tmp_path / "project"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="not a relukit report"):
        run.run_lab(precious, config=tiny_config, show_progress=False)
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


def test_interrupted_run_leaves_previous_report_untouched(tmp_path, monkeypatch, tiny_config):
    out = tmp_path / "report"
    out.mkdir()
    (out / run.MARKER).write_text("")
    (out / "index.html").write_text("previous")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C, mid-way

    monkeypatch.setattr(Convergence, "run", boom)
    with pytest.raises(KeyboardInterrupt):
        run.run_lab(out, config=tiny_config, show_progress=False)
    assert (out / "index.html").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temp folder, no lock


def test_a_second_lab_into_the_same_out_is_refused(tmp_path, tiny_config):
    out = tmp_path / "report"
    with run.out_lock(out.resolve()):
        with pytest.raises(RuntimeError, match="another relukit run"):
            run.run_lab(out, config=tiny_config, show_progress=False)
    assert not out.exists()


def test_a_stale_lock_is_taken_over(tmp_path):
    out = (tmp_path / "report").resolve()
    lock = out.with_name(".report.lock")
    lock.write_text("999999999\n")  # no such process
    with run.out_lock(out) as taken:
        assert taken.read_text().strip() == str(os.getpid())
    assert not lock.exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_report_has_every_section_numbered_once(tiny_report):
    out, index = tiny_report
    assert index == out / "index.html"
    page = index.read_text()
    for n, sec in enumerate(SECTIONS, start=1):
        assert f"<h2>{n}. {sec.title}</h2>" in page.replace("&#x27;", "'"), sec.id
        assert "What this shows." in page and "What to look for." in page
    assert page.count("What to look for.") == len(SECTIONS)
    assert 'name=\'viewport\'' in page and "@media print" in page
    assert "src='data:image/png;base64," in page  # self-contained
    assert "http://" not in page.split("<script>")[0] and "<script src" not in page
    assert not (out / "stale.txt").exists()  # replaced as a whole
    assert (out / run.MARKER).exists()
    assert out.stat().st_mode & 0o055 == 0o055 & ~_umask()
    for name in ("results.json", "convergence.csv", "gradient_flow.csv", "dying.csv",
                 "sparsity.csv", "memory.csv", "papers.csv", "atlas.png", "gradient_flow.png",
                 "convergence_mlp.png", "convergence_cnn.png", "dying_inactive.png",
                 "dying_accuracy.png", "sparsity.png", "memory.png", "papers_born_dead.png",
                 "exploding.csv", "exploding_growth.png", "exploding_training.png",
                 "zero_centred.csv", "zero_centred_depth.png", "zero_centred_training.png",
                 "output_relu.csv", "output_relu_regression.png", "output_relu_classifier.png",
                 "compute_cost.csv", "compute_cost.png"):
        assert (out / name).is_file(), name


def test_every_verdict_links_to_a_figure_on_the_page(tiny_report):
    out, index = tiny_report
    page = index.read_text()
    results = json.loads((out / "results.json").read_text())
    for v in results["verdicts"]:
        if v["plot"]:
            assert f"id='{v['plot']}'" in page, v["id"]
            assert f"href='#{v['plot']}'" in page


def test_results_json_carries_the_harness_keys(tiny_report, tiny_config):
    out, _ = tiny_report
    r = json.loads((out / "results.json").read_text())
    assert r["papers"]["gelu_tanh_error"]["measured"]["max_abs_error"] == pytest.approx(
        4.73e-4, rel=0.01)
    table = r["papers"]["born_dead"]["table"]
    assert {(row["width"], row["depth"]) for row in table} == {
        (w, d) for w in (2, 3, 4, 5, 10) for d in (10, 20, 50)}
    for row in table:
        assert {"width", "depth", "probability", "draws"} <= set(row)
        assert 0.0 <= row["probability"] <= 1.0 and row["draws"] == tiny_config.born_dead_draws
    assert "final" in r["papers"]["selu_fixed_point"] and "he" in r["papers"]["he_init"]
    ids = [v["id"] for v in r["verdicts"]]
    assert len(ids) == len(set(ids))
    for v in r["verdicts"]:
        assert {"id", "claim", "verdict", "seeds", "numbers"} <= set(v)
    by_id = {v["id"]: v for v in r["verdicts"]}
    assert by_id["relu_faster_than_tanh"]["seeds"] == tiny_config.seeds
    # every seed of every experiment ran
    runs = r["dying"]["runs"]["high lr"]["relu"]
    assert [x["seed"] for x in runs] == list(range(tiny_config.seeds))
    assert set(r["dying"]["runs"]["high lr"]) == {
        "relu", "leaky_relu(0.01)", "leaky_relu(0.1)", "prelu", "elu"}
    conv = r["convergence"]["runs"]["mlp"]["relu"]["0.1"]
    assert [x["seed"] for x in conv] == list(range(tiny_config.seeds))
    assert all(0.0 <= e <= 1.0 for e in conv[0]["train_error"])
    for act in tiny_config.activations:
        assert r["memory"]["models"][act]["outputs_identical"] is True
    # issue 15: every claim has its verdict, its seeds (or timing repeats) and its numbers
    for vid, seeds in (("not_zero_centred", tiny_config.seeds),
                       ("exploding_growth", tiny_config.seeds),
                       ("exploding_diverges", tiny_config.seeds),
                       ("clipping_rescues", tiny_config.seeds),
                       ("output_relu_regression", tiny_config.seeds),
                       ("output_relu_classifier", tiny_config.seeds),
                       ("relu_cheapest", tiny_config.cost_repeats),
                       ("cheap_trains_faster", tiny_config.step_repeats)):
        assert by_id[vid]["seeds"] == seeds, vid
        assert by_id[vid]["numbers"], vid
    assert "zero_centred_faster" in by_id
    assert [x["seed"] for x in r["exploding"]["runs"]["2"]] == list(range(tiny_config.seeds))
    assert set(r["compute_cost"]["forward"]) >= {"relu", "gelu", "elu", "tanh", "sigmoid"}


def test_sparsity_without_a_comparison_is_not_measured(tmp_path, tiny_config):
    from dataclasses import replace

    cfg = replace(tiny_config, activations=("relu",), dying_activations=())
    run.run_lab(tmp_path / "r", config=cfg, show_progress=False)
    r = json.loads((tmp_path / "r" / "results.json").read_text())
    by_id = {v["id"]: v for v in r["verdicts"]}
    assert by_id["sparse_outputs"]["verdict"] == "not measured"
    assert by_id["relu_faster_than_sigmoid"]["verdict"] == "not measured"
    assert "dying" not in r
