"""Templates and study modules small enough to read at once: the templates only format, and a
study is a few short modules."""

from braintumor.reports.render import TEMPLATES

MAX_LINES = 150


def test_every_template_file_is_under_150_lines():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in TEMPLATES.glob("*.j2")}
    assert sizes and all(lines < MAX_LINES for lines in sizes.values()), {n: s for n, s in sizes.items() if s >= MAX_LINES}


def test_every_study_module_is_under_150_lines():
    from braintumor import config

    sizes = {str(path.relative_to(config.REPO_ROOT)): len(path.read_text(encoding="utf-8").splitlines())
             for path in (config.REPO_ROOT / "braintumor" / "studies").rglob("*.py")}
    assert sizes and all(lines < MAX_LINES for lines in sizes.values()), {n: s for n, s in sizes.items() if s >= MAX_LINES}
