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
