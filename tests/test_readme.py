"""The README's two commands are what CI runs, and its CLI examples work as printed."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_starts_with_launch_and_test_commands():
    launch, test = readme_commands()
    assert "streamlit run app.py" in launch and "pip install -r requirements.txt" in launch
    assert "pytest" in test and "pip install" in test


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    test = readme_commands()[1]
    assert test in ci
