"""The app's Local findings tab opens a study's table from bench/out and shows its figure and verdicts."""

import shutil
import uuid
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.studies.test_verdicts import constructed_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_findings_tab_opens_a_study_table_under_bench_out():
    folder = ROOT / "bench" / "out" / f"test-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        table = constructed_table(lc_train=[3, 2, 6, 5, 3.5], d_train=[0.2, 0.2, 0.1, 0.15, 0.3])
        table.to_parquet(folder / "t.parquet")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["app_tab"] = "Local findings"
        at.run()
        picker = at.selectbox(key="study_path")
        assert picker.options[1].endswith("t.parquet")  # the newest table comes first
        picker.select_index(1).run()
        assert not at.exception and not at.error
        assert any(chart.key == "study_findings_chart" for chart in at.get("plotly_chart"))
        verdicts = at.code[-1].value
        assert verdicts.count("-> YES") == 3 and "peak, step 100" in verdicts
    finally:
        shutil.rmtree(folder)
