"""Copy an ablation's report into the repository: report.md, summary.json, the plots and the sample
sheets the report links to, at the same relative paths (so the report's links keep working).

    python scripts/publish_ablation.py runs/ablation docs/ablation

The report itself is written by ``openbanana experiment pretraining-ablation`` (``--report-only``
rewrites it from the run JSONs); this only copies what it wrote, and refuses a folder without one.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


def publish(out: Path, dest: Path) -> list[Path]:
    """Copy ``out``'s report and everything it links to into ``dest``; returns the copied files."""
    report = out / "report.md"
    if not report.is_file():
        raise SystemExit(f"{report} does not exist: run `openbanana experiment pretraining-ablation --out {out} "
                         "--report-only` first")
    files = [Path("report.md"), Path("summary.json")] + [Path(p) for p in LINK.findall(report.read_text())]
    copied = []
    for rel in files:
        src = out / rel
        if not src.is_file():
            raise SystemExit(f"{src} is linked from the report but missing")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
        copied.append(dest / rel)
    return copied


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python scripts/publish_ablation.py OUT DEST")
    done = publish(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"copied {len(done)} files to {sys.argv[2]}")
