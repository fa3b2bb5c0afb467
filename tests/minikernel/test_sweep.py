"""minikernel/sweep.py and `minikernel sweep`: grids, determinism across executors, outputs, bad input."""

import csv
import json
import os
import re

import pytest

from minikernel.errors import UserError
from minikernel.sweep import build_grid, crossovers, parse_cpus, run_sweep, write_outputs

SETS = ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1"]


def test_parse_cpus():
    assert parse_cpus("2..256") == [2, 4, 8, 16, 32, 64, 128, 256]
    assert parse_cpus("3..20") == [4, 8, 16]
    assert parse_cpus("8..32/8,96,2") == [2, 8, 16, 24, 32, 96]
    for bad in ("", "0", "4..2", "x", "2..256/0", "5..7"):
        with pytest.raises(UserError, match="--cpus"):
            parse_cpus(bad)


@pytest.mark.slow          # tests/tools/test_reference.py checks it on every run (see below)
def test_results_do_not_depend_on_the_job_count():
    """--run-slow: test_sweep_output_is_the_reference runs a sweep of both arches and
    both workloads with --jobs 1 and with --jobs 2 against the same stored bytes."""
    pts = build_grid(["arm64", "x86"], [2, 8], [""], ["seed", "threads"], [], 2, width=2)
    assert run_sweep(pts, jobs=1) == run_sweep(pts, jobs=2)


def test_arm64_benefit_grows_with_cpus_and_the_crossover_is_found():
    pts = build_grid(["arm64"], [2, 16, 96], [""], ["seed"], SETS, 3)
    rows = run_sweep(pts, jobs=1)
    speedups = [r["speedup"] for r in rows]
    assert speedups == sorted(speedups) and speedups[0] > 1.0
    assert all(r["configured_defers"] and r["batched_defers"] for r in rows)
    assert crossovers(rows) == {("arm64", rows[0]["machine"], "seed", " ".join(SETS), 1): 2}


def test_x86_seed_never_defers_but_threads_do():
    rows = run_sweep(build_grid(["x86"], [8], [""], ["seed", "threads"], [], 2), jobs=1)
    seed, threads = rows
    assert not seed["batched_defers"] and seed["dsb_or_ipi_unbatched"] == 0
    assert threads["batched_defers"]
    assert threads["dsb_or_ipi_batched"] < threads["dsb_or_ipi_unbatched"]


def test_outputs(tmp_path):
    rows = run_sweep(build_grid(["arm64"], [4, 8], [""], ["seed"], SETS, 2), jobs=1)
    files = write_outputs(rows, tmp_path, plot=False)
    assert [f.name for f in files] == ["sweep.csv", "sweep.json"]
    assert len(list(csv.DictReader(open(files[0])))) == 2
    data = json.loads(files[1].read_text())
    assert data["points"] == rows and data["crossovers"][0]["cpus"] == 4


def test_outputs_keep_an_earlier_runs_files_as_old(tmp_path):
    """--out DIR again: nothing the user had there is overwritten silently."""
    rows = run_sweep(build_grid(["arm64"], [4], [""], ["seed"], SETS, 1), jobs=1)
    (tmp_path / "sweep.csv").write_text("mine\n")
    (tmp_path / "sweep.json").write_text("{}\n")
    write_outputs(rows, tmp_path, plot=False)
    assert (tmp_path / "sweep.csv.old").read_text() == "mine\n"
    assert (tmp_path / "sweep.json.old").read_text() == "{}\n"
    assert json.loads((tmp_path / "sweep.json").read_text())["points"] == rows
    # the same results again: no .old churn, the earlier .old stays
    write_outputs(rows, tmp_path, plot=False)
    assert (tmp_path / "sweep.csv.old").read_text() == "mine\n"


def test_plot_is_written_when_matplotlib_is_installed(tmp_path, cpython_extra):
    cpython_extra("matplotlib")  # in the test extra: skipped under PyPy only
    rows = run_sweep(build_grid(["arm64"], [4, 8], [""], ["seed"], SETS, 1), jobs=1)
    assert (tmp_path / "sweep.png") in write_outputs(rows, tmp_path)
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_dask_executor_gives_the_same_rows(cpython_extra):
    distributed = cpython_extra("distributed")  # in the test extra: skipped under PyPy only
    pts = build_grid(["arm64"], [2, 8], [""], ["seed"], SETS, 1)
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as c:
        assert run_sweep(pts, executor="dask", scheduler=c.scheduler_address) == \
            run_sweep(pts, jobs=1)


@pytest.mark.parametrize("argv,needle", [
    (["--cpus", "4..2"], "--cpus"),
    (["--workload", "nope"], "unknown workload"),
    (["--arch", "x86", "--cpus", "1024"], "CONFIG_NR_CPUS=512"),
    (["--executor", "ray"], "unknown executor"),
    (["--executor", "dask"], "--scheduler"),
    (["--arch", "sparc"], "sparc"),
    (["--workload", "threads", "--cpus", "2", "--width", "4"], "needs 4 CPUs"),
])
def test_bad_grids_exit_2_with_one_line(run_cli, argv, needle, tmp_path):
    r = run_cli("sweep", "--out", str(tmp_path), "--iterations", "1", *argv)
    assert r.rc == 2
    assert needle in r.err and len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.err


def test_cli_sweep_writes_files_and_table(run_cli, tmp_path):
    r = run_cli("sweep", "--arch", "arm64", "--cpus", "2,8", "--set", "EXPERT=y", "--set",
                "ARM64_NR_CPUS_FOR_BATCHED_TLB=1", "--iterations", "1", "--jobs", "1",
                "--no-plot", "--out", str(tmp_path))
    assert r.rc == 0
    assert "deferring pays" in r.out
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "sweep.json").exists()


def test_machine_profiles_in_the_grid(run_cli, tmp_path):
    rows = run_sweep(build_grid(["arm64"], [8], ["snapdragon888", "kunpeng920"], ["seed"],
                                SETS, 1), jobs=1)
    assert [r["machine"] for r in rows] == ["snapdragon888", "kunpeng920"]
    r = run_cli("sweep", "--arch", "arm64", "--machine", "x86-2s", "--cpus", "8",
                "--out", str(tmp_path))
    assert r.rc == 2 and "x86" in r.err and len(r.err.strip().splitlines()) == 1


def test_threshold_less_variant_is_swept_against_a_kernel_that_does_not_defer():
    sets = ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"]
    rows = run_sweep(build_grid(["arm64"], [4, 96], [""], ["seed"], sets, 1), jobs=1)
    assert all(r["speedup"] > 1.0 and r["sync_flushes_unbatched"] > 0 for r in rows)


def test_sweep_refuses_an_erratum_flip():
    with pytest.raises(UserError, match="REPEAT_TLBI"):
        build_grid(["arm64"], [8], ["snapdragon888"], ["seed"],
                   ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"], 1)   # its A55s: 2441007


def test_the_test_extra_installs_the_plot_and_dask_extras():
    from pathlib import Path

    from minikernel.compat import tomllib

    extras = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml")
                           .read_text())["project"]["optional-dependencies"]
    for extra in ("plot", "dask"):
        assert set(extras[extra]) <= set(extras["test"]), extra


def test_width_is_a_sweep_axis():
    pts = build_grid(["x86"], [4, 8], [""], ["seed", "threads"], [], 1, width=[2, 4])
    assert [(p.cpus, p.workload, p.width) for p in pts] == [
        (4, "seed", 2), (4, "threads", 2), (4, "threads", 4),
        (8, "seed", 2), (8, "threads", 2), (8, "threads", 4)]
    rows = run_sweep(pts, jobs=1)
    assert [r["width"] for r in rows] == [1, 2, 4, 1, 2, 4]
    # more threads, more IPI targets per remote flush
    assert rows[2]["dsb_or_ipi_unbatched"] > rows[1]["dsb_or_ipi_unbatched"]


def _figure_of(rows):
    from minikernel.sweep import _figure

    return _figure(rows)


def _panels(fig):
    """The data panels (speedup, flush share) per arch row; the legend and caption rows
    are axes with their axis off."""
    data = [ax for ax in fig.axes if ax.axison]
    return [data[i:i + 2] for i in range(0, len(data), 2)]


def _caption(fig):
    return " ".join(" ".join(t.get_text().split()) for ax in fig.axes if not ax.axison
                    for t in ax.texts)


def _legend(fig, row=0):
    """The legend labels (newlines joined) under the panels of arch row *row*."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [" ".join(t.get_text().split()) for t in legends[row].get_texts()]


@pytest.fixture(scope="module")
def mail_rows():
    return run_sweep(build_grid(["arm64", "x86"], [4, 8, 96], [""], ["seed", "threads"],
                                ["EXPERT=y"], 1, ranges=False), jobs=1)


def test_figure_is_fit_to_mail(cpython_extra, mail_rows):
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    fig = _figure_of(mail_rows)
    (a_speed, a_share), (x_speed, x_share) = _panels(fig)
    for ax in (a_speed, a_share, x_speed, x_share):      # ticks at the grid's CPU counts
        assert list(ax.get_xticks()) == [4, 8, 96]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8", "96"]
    # the flush-share panel is each arch's own synchronous flush path
    assert "ptep_clear_flush" in a_share.get_title() and "remote-flush" in x_share.get_title()
    assert "flush_tlb_mm_range" in x_share.get_ylabel()
    x_threads = [r for r in mail_rows if r["arch"] == "x86" and r["workload"] == "threads"]
    shares = [ln for ln in x_share.get_lines() if ln.get_marker() not in (None, "None", "")]
    assert list(shares[1].get_ydata()) == [r["flush_share_pct"] for r in x_threads]
    # x86's remote flush is the IPI round, not ptep_clear_flush's local INVLPG
    assert all(r["flush_share_pct"] > 5 * r["ptep_clear_flush_pct"] for r in x_threads)
    caption = _caption(fig)
    assert "kunpeng920" in caption and "x86-2s" in caption and "EXPERT=y" in caption
    assert "kernel: arm64 Linux 6.1 (v5), x86 Linux 6.1" in caption
    assert "1 measured iteration after 1 warm-up" in caption
    # arm64 seed and threads:4 give identical results: one line, one merged legend entry
    assert _legend(fig, 0) == ["seed = threads:4 (identical results): pays everywhere "
                                     "in this grid"]
    assert _legend(fig, 1) == ["seed: pays nowhere in this grid",
                                     "threads:4: pays everywhere in this grid"]
    styles = [(ln.get_marker(), ln.get_linestyle()) for ln in x_speed.get_lines()
              if ln.get_marker() not in (None, "None", "")]
    assert len(styles) == len(set(styles)) == 2
    # no crossover line where the sign never changes inside the grid
    assert not any(t.get_text().startswith("crossover") for t in x_speed.texts + a_speed.texts)
    # the fit input (kunpeng920 seed at its fitted 96 CPUs) is a hollow marker, said so
    hollow = [ln for ln in a_speed.get_lines() if ln.get_markerfacecolor() == "white"]
    assert [list(ln.get_xdata()) for ln in hollow] == [[96]]
    assert "Hollow marker: the saving there was a fit input" in caption


def test_every_series_is_visible_and_the_width_axis_is_its_own_line(cpython_extra):
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    rows = run_sweep(build_grid(["x86"], [4, 8], [""], ["seed", "threads", "procs"], [], 1,
                                width=[2, 4], ranges=False), jobs=1)
    fig = _figure_of(rows)
    (speed, share), = _panels(fig)
    assert _legend(fig) == [
        "seed: pays nowhere in this grid", "threads:2: pays everywhere in this grid",
        "threads:4: pays everywhere in this grid", "procs:2: pays everywhere in this grid",
        "procs:4: pays everywhere in this grid"]
    for ax in (speed, share):
        data = [ln for ln in ax.get_lines() if ln.get_marker() not in (None, "None", "")]
        assert len(data) == 5
        assert len({(ln.get_marker(), ln.get_linestyle()) for ln in data}) == 5
        assert len({ln.get_color() for ln in data}) == 5
    assert "Shaded" not in _caption(fig)                  # --no-ranges: no band, none said


def _synthetic(rows, speedups):
    """*rows* with their speedups replaced per workload (a function of the CPU count)."""
    out = []
    for r in rows:
        r = dict(r)
        if r["workload"] in speedups:
            r["speedup"] = speedups[r["workload"]](r["cpus"])
            r["flush_share_pct"] += len(r["workload"])      # no merge with the other line
        out.append(r)
    return out


def test_a_crossover_line_only_where_the_sign_changes_inside_the_grid(cpython_extra):
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    from minikernel.sweep import render_table

    real = run_sweep(build_grid(["arm64"], [4, 8, 16, 32], [""], ["seed", "threads"], [], 1,
                                ranges=False), jobs=1)
    rows = _synthetic(real, {"seed": lambda c: 0.98 + 0.002 * c,        # pays from 16
                             "threads": lambda c: 1.04 - 0.002 * c})    # up to 16
    table = render_table(rows)
    assert "(arm64, kunpeng920, seed): from 16 CPUs" in table
    assert "(arm64, kunpeng920, threads:4): up to 16 CPUs" in table
    fig = _figure_of(rows)
    (speed, _), = _panels(fig)
    vlines = sorted(ln.get_xdata()[0] for ln in speed.get_lines() if ln.get_linestyle() == ":"
                    and len(set(ln.get_xdata())) == 1)
    assert vlines == [16, 32]
    assert sorted(t.get_text() for t in speed.texts if t.get_text().startswith("crossover")) \
        == ["crossover 16: pays from here", "crossover 32: stops paying"]
    assert _legend(fig) == ["seed: pays from 16 CPUs", "threads:4: pays up to 16 CPUs"]
    # pays only in the middle of the grid: named, two lines
    mid = _synthetic(real, {"seed": lambda c: 1.01 if c in (8, 16) else 0.99})
    assert "seed): at 8..16 CPUs" in render_table(mid)


def test_the_threshold_line_only_inside_the_grid(cpython_extra):
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    for threshold, want in ((8, ["threshold 8"]), (1, [])):
        rows = run_sweep(build_grid(["arm64"], [4, 8, 16], [""], ["seed"],
                                    ["EXPERT=y", f"ARM64_NR_CPUS_FOR_BATCHED_TLB={threshold}"],
                                    1, ranges=False), jobs=1)
        (speed, _), = _panels(_figure_of(rows))
        assert [t.get_text() for t in speed.texts] == want
        assert speed.get_xlim()[0] > 2                 # a threshold of 1 does not widen it


def _drawn_texts(fig, monkeypatch):
    """Every text matplotlib drew (tick labels outside the view are never drawn), with
    its window extent."""
    import matplotlib.text

    drawn = []
    real = matplotlib.text.Text.draw

    def draw(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return real(self, renderer)

    monkeypatch.setattr(matplotlib.text.Text, "draw", draw)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in drawn], renderer


MANY_SETS = ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=8", "ARM64_ERRATUM_2441007=n",
             "ARM64_ERRATUM_1286807=n", "NR_CPUS=256", "ARM64_ERRATUM_2441009=n"]


@pytest.mark.parametrize("grid", ["both arches", "many sets", "widths", "dense", "crossover"])
def test_no_text_overprints_another_and_the_legend_is_off_the_data(cpython_extra, monkeypatch,
                                                                  grid, mail_rows):
    """From the drawn figure: no two texts' window extents overlap, every text is inside
    the figure, and no legend overlaps a data panel."""
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    if grid == "both arches":
        rows = mail_rows
    elif grid == "many sets":
        rows = run_sweep(build_grid(["arm64"], [2, 8, 64], ["snapdragon888", "kunpeng920"],
                                    ["seed"], MANY_SETS, 1, ranges=False), jobs=1)
    elif grid == "widths":
        rows = run_sweep(build_grid(["x86", "arm64"], [8, 96], [""], ["seed", "threads",
                                    "procs"], [], 1, width=[2, 4, 8], ranges=False), jobs=1)
    elif grid == "dense":
        rows = run_sweep(build_grid(["arm64"], parse_cpus("8..160/8,2,4"), [""], ["seed"], [],
                                    1, ranges=False), jobs=1)
    else:
        rows = _synthetic(mail_rows, {"seed": lambda c: 0.99 + 0.001 * c,
                                      "threads": lambda c: 1.02 - 0.001 * c})
    fig = _figure_of(rows)
    texts, renderer = _drawn_texts(fig, monkeypatch)
    assert len(texts) > 20
    page = fig.bbox
    for t, box in texts:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and \
            box.y1 <= page.y1, f"{t.get_text()!r} leaves the figure"
    for i, (t, box) in enumerate(texts):
        for u, other in texts[i + 1:]:
            assert not box.overlaps(other), f"{t.get_text()!r} overprints {u.get_text()!r}"
    panels = [ax.get_window_extent(renderer) for row in _panels(fig) for ax in row]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends and all(not ax.axison for ax in fig.axes if ax.get_legend() is not None)
    for leg in legends:
        box = leg.get_window_extent(renderer)
        assert not any(box.overlaps(p) for p in panels)
    if grid == "dense":                   # thinned labels: ends and the profile's 96 kept
        labels = [t.get_text() for t in _panels(fig)[0][0].get_xticklabels()]
        assert labels[0] == "2" and labels[-1] == "160" and "96" in labels and "" in labels
        assert len(_panels(fig)[0][0].get_xticks()) == len(labels) == 22
    if grid == "many sets":
        assert " ".join(MANY_SETS) in _caption(fig)
    plt = matplotlib.pyplot
    plt.close(fig)


def test_the_band_is_the_saving_range_and_a_tall_one_is_cut(cpython_extra):
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    rows = run_sweep(build_grid(["riscv"], [4, 16], [""], ["seed", "threads"], [], 1), jobs=1)
    assert all(r["saving_low_pct"] is not None for r in rows if r["cpus"] == 16)
    fig = _figure_of(rows)
    (speed, _), = _panels(fig)
    bands = speed.collections
    assert len(bands) == 2
    threads = [r for r in rows if r["workload"] == "threads"]
    top = max(1 / (1 - r["saving_high_pct"] / 100) for r in threads)
    ys = [v[1] for path in bands[1].get_paths() for v in path.vertices]
    assert max(ys) == pytest.approx(top)
    lo, hi = speed.get_ylim()
    assert hi < top                      # the band would flatten the lines: cut, and said
    assert max(r["speedup"] for r in rows) < hi
    assert "cut at its edge" in _caption(fig)


def test_table_says_where_deferring_pays():
    from minikernel.sweep import render_table

    rows = run_sweep(build_grid(["x86"], [4], [""], ["seed", "threads"], [], 1), jobs=1)
    out = render_table(rows)
    assert "(x86, x86-2s, seed): nowhere in this grid" in out
    assert "(x86, x86-2s, threads:4): everywhere in this grid" in out


def test_ctrl_c_keeps_and_writes_the_points_that_finished(run_cli, tmp_path, monkeypatch):
    import minikernel.sweep as sw

    real, calls = sw.run_point, []

    def interrupted_second_point(point):
        calls.append(point)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(point)

    monkeypatch.setattr(sw, "run_point", interrupted_second_point)
    r = run_cli("sweep", "--arch", "arm64", "--cpus", "4,8,16", "--iterations", "1",
                "--jobs", "1", "--no-plot", "--out", str(tmp_path / "o"))
    assert r.rc == 130 and r.err.count("\n") == 1
    assert "interrupted: 1 of 3 points done; wrote" in r.err
    rows = list(csv.DictReader(open(tmp_path / "o" / "sweep.csv")))
    assert [row["cpus"] for row in rows] == ["4"]


def _children(pid):
    """PIDs whose parent is *pid*, read from /proc (no psutil under PyPy)."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d))
    return kids


def test_ctrl_c_with_worker_processes_stops_at_once(tmp_path, cli_env):
    # Real SIGINT to the whole process group, as a terminal sends it: the workers
    # ignore it, the parent terminates them and reports what finished.
    import signal
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-m", "minikernel", "sweep", "--arch", "arm64",
                          "--cpus", "2..256", "--iterations", "200", "--jobs", "2", "--no-plot",
                          "--out", str(tmp_path / "o")], env=cli_env(), cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    # Wait until the pool's workers exist (PyPy or a loaded host can take seconds
    # to import), then give them a moment to start on their points.
    deadline = time.monotonic() + 60
    while not _children(p.pid) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children(p.pid), "the sweep never started its worker processes"
    time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130 and "Traceback" not in err
    assert re.fullmatch(r"interrupted: \d+ of 8 points done; (wrote .*|nothing written)\n", err)


def test_an_interrupted_process_pool_has_no_thread_left_behind(monkeypatch):
    # The pool's manager thread closes a pipe that the interpreter's exit hook
    # writes to without a lock; a sweep interrupted while that thread still runs
    # printed an OSError traceback at exit (seen on a loaded CI host).  So
    # run_sweep returns only once the thread is gone.
    import threading

    import minikernel.sweep as sw
    from minikernel.sweep import SweepInterrupted

    real = sw.as_completed

    def interrupted(futures):           # Ctrl-C once the first kernel is back
        yield next(real(futures))
        raise KeyboardInterrupt

    monkeypatch.setattr(sw, "as_completed", interrupted)
    points = build_grid(["arm64"], [2, 4, 8], [""], ["seed"], [], 50)
    with pytest.raises(SweepInterrupted):
        run_sweep(points, jobs=2)
    left = [t for t in threading.enumerate() if "ExecutorManager" in type(t).__name__]
    assert left == []


def test_points_far_from_the_profiles_cpu_count_are_marked_as_extrapolated(cpython_extra):
    matplotlib = cpython_extra("matplotlib")

    matplotlib.use("Agg")
    from minikernel.sweep import _figure, render_table

    rows = run_sweep(build_grid(["arm64"], [4, 64, 256], [""], ["seed"], [], 1), jobs=1)
    assert {r["profile_cpus"] for r in rows} == {96}
    assert ("note: kunpeng920 was measured or fitted at 96 CPUs; the points at 4, 256 CPUs "
            "extrapolate") in render_table(rows)
    caption = _caption(_figure(rows))
    assert "kunpeng920 (measured or fitted at 96 CPUs; the points at 4, 256 CPUs extrapolate)" \
        in caption


def test_run_point_kernel_refuses_what_build_grid_would_have(monkeypatch):
    """The same-decision check runs in build_grid (check_sweep_point) before any
    point runs; run_point_kernel checks it again, so a Point built by hand whose
    kernel ignores its flip stops with a UserError instead of a speedup of 1.000."""
    import minikernel.arch
    from minikernel.errors import UserError
    from minikernel.sweep import Point, run_point_kernel

    monkeypatch.setattr(minikernel.arch, "deferral_sets", lambda *a, **k: [])
    with pytest.raises(UserError, match=r"^sweep point arm64 on 4 CPUs \(\+ defconfig\): the "
                                        r"kernel meant to defer does not \(.*\): expected a "
                                        r"point from build_grid\(\)"):
        run_point_kernel(Point("arm64", "", 4, "seed", (), 1), True)   # defconfig: no EXPERT


def test_build_grid_boots_each_distinct_kernel_of_a_point_once(monkeypatch):
    """The up-front checks (erratum flip, same decision, migrate) share the
    machines: a point's configured kernel is also its deferring (x86) or its
    synchronous one (arm64 defconfig), so two boots a CPU count, not three."""
    import minikernel.machine

    boots = []
    real = minikernel.machine.Machine.__init__

    def counting(self, *a, **k):
        boots.append(1)
        real(self, *a, **k)

    monkeypatch.setattr(minikernel.machine.Machine, "__init__", counting)
    build_grid(["arm64", "x86"], [4, 8], [""], ["seed", "threads"], [], 1, width=2)
    assert len(boots) == 2 * 2 * 2
