import pytest

from relukit import catalogue, cli


def test_list_prints_every_activation(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in catalogue.names():
        assert name in out


def test_atlas_writes_one_png_per_activation_and_the_grid(tmp_path):
    pytest.importorskip("matplotlib")
    assert cli.main(["atlas", "--out", str(tmp_path), "--activations", "relu,crelu,gelu"]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    assert written == ["atlas.png", "atlas_crelu.png", "atlas_gelu.png", "atlas_relu.png"]
    for p in tmp_path.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_activation_lists_the_valid_ones(tmp_path, capsys):
    assert cli.main(["atlas", "--out", str(tmp_path), "--activations", "relu,reluu"]) == 2
    err = capsys.readouterr().err
    assert "reluu" in err and "leaky_relu" in err and "Valid names" in err


def test_version(capsys):
    from relukit import __version__

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"relukit {__version__}"


@pytest.mark.parametrize("command", ["lab", "atlas"])
def test_empty_activations_is_an_error(command, tmp_path, capsys):
    assert cli.main([command, "--out", str(tmp_path / "o"), "--activations", " , "]) == 2
    assert "give at least one name" in capsys.readouterr().err


def test_atlas_out_has_the_labs_safety(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["atlas", "--out", "/"]) == 2
    assert "filesystem root" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert cli.main(["atlas", "--out", str(mine), "--activations", "relu"]) == 2
    assert "not a relukit report" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"


def test_ctrl_c_ends_with_one_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from relukit.lab import run

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run_lab", interrupted)
    assert cli.main(["lab", "--out", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "interrupted" in err


def test_lab_flags_reach_the_config(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from relukit.lab import run

    seen = {}

    def fake(out, **kw):
        seen.update(kw)
        return tmp_path / "index.html"

    monkeypatch.setattr(run, "run_lab", fake)
    assert cli.main(["lab", "--out", str(tmp_path / "r"), "--lr", "0.05", "--epochs", "3",
                     "--depth", "5", "--width", "32", "--bias-init", "-1.5", "--seeds", "4"]) == 0
    assert seen["lrs"] == (0.05,) and seen["epochs"] == 3 and seen["dying_epochs"] == 3
    assert seen["depth"] == 5 and seen["width"] == 32 and seen["negative_bias"] == -1.5
    assert seen["seeds"] == 4
    for flag, value in (("--lr", "0"), ("--epochs", "0"), ("--depth", "-1")):
        assert cli.main(["lab", "--out", str(tmp_path / "r"), flag, value]) == 2
