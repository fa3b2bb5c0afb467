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


def validation_rows() -> list[tuple[str, str, float | None, float]]:
    """(machine, prediction, published, model) of everything the README's
    "predicted" table shows, computed on the shipped profiles."""
    from minikernel.profile import load_profile
    rows = []
    for machine, like in (("snapdragon888", None), ("kunpeng920", load_profile("snapdragon888"))):
        res = fitmod.fit(fitmod.published_measurements(machine), like, fit_issue=False,
                         other=False)
        for name, (pub, model) in res.predictions.items():
            rows.append((machine, f"unbatched-only fit: {name}", pub, model))
        for name, pub, model in fitmod.leave_one_out(machine):
            rows.append((machine, f"leave out: {name}", pub, model))
    return rows


#: The README's range table: each row is ``minikernel`` + these arguments (+
#: ``--iterations 1 --json``).  The Snapdragon rows run the published kernel's
#: configuration (minikernel.fit.PUBLISHED_KERNEL: no 171df58028bf A55
#: workaround), as the calibration does; with it the A/B is refused.
RANGE_ROWS: tuple[tuple[str, ...], ...] = (
    ("--defconfig", "arm64", "--set", "EXPERT=y", "--machine", "kunpeng920", "--smp", "32"),
    ("--defconfig", "arm64", "--set", "EXPERT=y", "--machine", "kunpeng920", "--smp", "128"),
    ("--defconfig", "arm64", "--set", "EXPERT=y", "--machine", "kunpeng920", "--smp", "256"),
    ("--defconfig", "arm64", "--set", "EXPERT=y", "--set", "ARM64_ERRATUM_2441007=n",
     "--machine", "snapdragon888", "--smp", "4", "--set", "ARM64_NR_CPUS_FOR_BATCHED_TLB=2"),
    ("--defconfig", "arm64", "--set", "EXPERT=y", "--set", "ARM64_ERRATUM_2441007=n",
     "--machine", "snapdragon888", "--smp", "96"),
    ("--defconfig", "x86", "--workload", "threads:4"),
)


def ranges_rows() -> list[tuple[str, float, float, float, str]]:
    """(arguments, saving, low, high, moved most by) of each RANGE_ROWS main job."""
    import contextlib
    import io
    import json

    from minikernel.cli import main as cli
    out = []
    for argv in RANGE_ROWS:
        buf, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            rc = cli([*argv, "--iterations", "1", "--json"])
        if rc != 0:
            raise SystemExit(f"fit_profiles: minikernel {' '.join(argv)}: exit {rc}: "
                             + err.getvalue().strip().splitlines()[-1])
        s = json.loads(buf.getvalue())["ab"]["saving"]
        out.append((" ".join(argv), s["pct"], s["range"]["low_pct"], s["range"]["high_pct"],
                    s["range"]["moved_most_by"]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the built-in profile files")
    ap.add_argument("--tables", action="store_true",
                    help="also print the numbers of the README's calibration tables "
                         "(predictions, leave-one-out, ranges; ~30 s)")
    a = ap.parse_args(argv)
    for name, res in refit(a.write).items():
        sys.stdout.write(f"== {name}\n" + fitmod.render_result(res))
    if a.tables:
        sys.stdout.write("== predicted (not used in the fit)\n")
        for machine, name, pub, model in validation_rows():
            err = "" if pub is None else f"  error {model - pub:+.3g}"
            pubs = "not measured" if pub is None else f"{pub:.4g}"
            sys.stdout.write(f"  {machine:14} {name:64} {pubs:>12}  model {model:.4g}{err}\n")
        sys.stdout.write("== ranges (main job)\n")
        for cmd, pct, lo, hi, most in ranges_rows():
            sys.stdout.write(f"  {cmd:100} {pct:6.2f} % ({lo:.2f} .. {hi:.2f}), most: {most}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
