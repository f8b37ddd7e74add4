"""The local-findings study (bench/findings.toml): train, measure, test, plot — one command.

Run:  .venv/bin/python bench/findings_study.py [--scheduler local:2] [--docs docs/findings]
Writes the table (Parquet + CSV), figures and verdicts.md to bench/out/findings/ (resumable: a rerun reuses
the cache there), prints the verdicts at both radii, and copies the findings figures to --docs for the README.
Whatever the numbers say is reported; nothing here assumes a direction.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.studies.cli import TextProgress  # noqa: E402
from explorer.studies.run import run_study  # noqa: E402
from explorer.studies.spec import load_study  # noqa: E402
from explorer.studies.verdicts import findings_verdicts, format_verdicts  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "bench" / "findings.toml"))
    ap.add_argument("--scheduler", default=None, help="serial, local (default), local:N or tcp://HOST:PORT")
    ap.add_argument("--docs", default=str(ROOT / "docs" / "findings"), help="where to copy the figures ('' = no)")
    args = ap.parse_args()
    spec = load_study(args.spec)
    out = ROOT / "bench" / "out" / spec.name
    bar = TextProgress()
    result = run_study(spec, scheduler=args.scheduler, out=out, progress=bar)
    bar.close()
    table = result.table
    print(f"{result.n_cells:,} cells ({result.n_cached:,} cached, {result.n_failed} failed) in {result.seconds:.0f} s "
          f"on {result.executor}")
    for event in result.events:
        print(f"note: {event}")
    report = [f"# Local findings: {spec.name}\n", _training_summary(table)]
    for radius in sorted(table.loc[table["measure"] == "local_complexity", "radius"].unique()):
        text = format_verdicts(findings_verdicts(table, radius=radius))
        report += [f"\n## Balls of radius {radius:g}\n", "```", text, "```"]
    print("\n".join(report))
    (out / "verdicts.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    if args.docs:
        docs = Path(args.docs)
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("findings", "regions_2d"):
            src = out / f"{spec.name}_{name}.png"
            if src.is_file():
                shutil.copy(src, docs / src.name)
        shutil.copy(out / "verdicts.md", docs / "verdicts.md")
        print(f"copied figures and verdicts.md to {docs}")


def _training_summary(table) -> str:
    """Final accuracy per dataset and weight decay (mean over seeds)."""
    acc = table[(table["measure"] == "accuracy") & (table["variant"] == "accuracy")]
    last = acc[acc["step"] == acc.groupby(["dataset"])["step"].transform("max")]
    lines = ["Final accuracy (mean over seeds):"]
    for (dataset, wd, points), part in last.groupby(["dataset", "weight_decay", "points"]):
        lines.append(f"- {dataset}, weight decay {wd:g}, {points}: {part['value'].mean():.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
