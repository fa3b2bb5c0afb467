"""Re-fit the built-in arm64 profiles to the published data: `minikernel fit --published`.

Model-only tooling.  One command after any change to the model:

    python tools/fit_profiles.py            # print residuals and predictions
    python tools/fit_profiles.py --write    # also rewrite the two profile files

It runs ``minikernel fit`` on minikernel/data/published.toml:
  - snapdragon888 from its *unbatched* measurements only (perf report, the
    `time` user+sys), the unreported symbols by the assumed TAIL_WEIGHTS (so
    the fit does not depend on the file it rewrites); its batched run and the
    perf annotate DSB share stay predictions;
  - kunpeng920 from all three published numbers (16.99 %, user+sys
    unbatched and batched), with the freshly fitted snapdragon888 giving the
    proportions of the symbols no Kunpeng profile reports.
Profiles are written complete (no inherit), with a provenance comment on
every figure; a previous file is kept as FILE.old only outside the package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minikernel import fit as fitmod
from minikernel.profile import _load

PROFILES = Path(__file__).resolve().parent.parent / "minikernel" / "profiles"


def refit(write: bool) -> dict[str, fitmod.FitResult]:
    """Fit both machines; with *write*, rewrite their profile files."""
    out = {}
    sd = fitmod.fit(fitmod.published_measurements("snapdragon888"), None, fit_issue=False)
    out["snapdragon888"] = sd
    if write:
        (PROFILES / "snapdragon888.toml").write_text(sd.toml, encoding="utf-8")
        _load.cache_clear()
    kp = fitmod.fit(fitmod.published_measurements("kunpeng920"), sd.profile)
    out["kunpeng920"] = kp
    if write:
        (PROFILES / "kunpeng920.toml").write_text(kp.toml, encoding="utf-8")
        _load.cache_clear()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the built-in profile files")
    a = ap.parse_args(argv)
    for name, res in refit(a.write).items():
        sys.stdout.write(f"== {name}\n" + fitmod.render_result(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
