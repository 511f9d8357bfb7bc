from pathlib import Path

from relukit.cli import catalogue_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_catalogue_table_matches_the_catalogue():
    text = README.read_text()
    start = text.index("<!-- catalogue:start -->") + len("<!-- catalogue:start -->")
    end = text.index("<!-- catalogue:end -->")
    assert text[start:end].strip() == catalogue_markdown()


def test_readme_starts_with_the_two_commands():
    head = README.read_text()[:400]
    assert "make demo" in head and "make test" in head
