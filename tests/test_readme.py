"""The README a newcomer reads first: a quick start on its first screen, the sets and models
named before they are used, and sentences without parentheses inside parentheses."""

import re

from braintumor import config

README = config.REPO_ROOT / "README.md"
#: About what GitHub shows before a reader scrolls.
FIRST_SCREEN_LINES = 30


def _prose(text: str) -> str:
    """The README without code blocks, inline code and link targets."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "code", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def deepest_parentheses(line: str) -> int:
    depth = deepest = 0
    for character in line:
        if character == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif character == ")":
            depth -= 1
    return deepest


def test_the_first_screen_holds_a_three_line_quick_start():
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("## Quick start")
    assert start < FIRST_SCREEN_LINES
    block = lines[lines.index("```bash", start) + 1:]
    commands = [line.split("#")[0].strip() for line in block[:block.index("```")]]
    assert len(commands) == 3
    assert commands[0] == "make venv" and "predict" in commands[1] and commands[2] == "make unit"


def test_sets_and_model_names_are_defined_before_the_results_use_them():
    text = README.read_text(encoding="utf-8")
    assert text.index("## Sets and models, by name") < text.index("## Results")
    assert text.index("### Which model for which scans") < text.index("## Results")


def test_no_sentence_nests_parentheses():
    assert deepest_parentheses("a (b (c) d)") == 2 and deepest_parentheses("a (b) (c)") == 1
    nested = [line[:120] for line in _prose(README.read_text(encoding="utf-8")).splitlines()
              if deepest_parentheses(line) > 1]
    assert nested == []
