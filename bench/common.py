"""Shared benchmark helpers: child processes with peak memory, phase timing, tables.

Every measured run happens in a fresh child process so its peak RSS is its own (the parent's
generator buffers and earlier runs never count), and the child reports where its time and
memory went so a slow or fat run can be explained, not just observed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
MIB = 1024 * 1024
POLL_SECONDS = 0.05


def ensure_built(folder: Path, meta: dict[str, Any], script: Path) -> Path:
    """``folder`` as ``script --build CUSTOMERS SEED DIR`` makes it, built only when its
    ``meta`` (customers, seed, data version) differs from the cached one's."""
    meta_file = folder / "meta"
    if meta_file.exists() and json.loads(meta_file.read_text()) == meta:
        return folder
    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # In a child, so the measuring parent (whose process tree run_child polls) stays small.
    build = [sys.executable, str(script), "--build", str(meta["customers"]), str(meta["seed"])]
    subprocess.run([*build, str(tmp)], check=True)
    (tmp / "meta").write_text(json.dumps(meta))
    tmp.rename(folder)
    took = time.perf_counter() - started
    print(f"built a workspace of {meta['customers']:,} customers in {took:.0f} s", flush=True)
    return folder


def worker(
    args: Any,
    build: Callable[[Path, int, int], None],
    patron: Callable[[str, str, str], None],
    pandas: Callable[[str, str], None],
) -> bool:
    """Do this process's job when it is not the parent: build the data (``--build CUSTOMERS
    SEED DIR``) or run one measured child (``--child STAGE SOURCE OUT``, ``pandas`` for the
    peer). False in the parent."""
    if args.build:
        customers, seed, folder = args.build
        build(Path(folder), int(customers), int(seed))
    elif args.child:
        stage, source, out = args.child
        if stage == "pandas":
            pandas(source, out)
        else:
            patron(stage, source, out)
    return bool(args.build or args.child)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message: what a results table can show."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def finish_stage(
    profiler: StepProfiler,
    stage: str,
    call: Callable[[], Any] | None,
    ws: Any,
    result: dict[str, Any],
) -> None:
    """Run a child's one measured ``call`` as ``stage`` (None: nothing to run), close ``ws``
    and print ``result`` with the call's seconds, its peak RSS and its failure, if any."""
    profiler.current = stage
    started = time.perf_counter()
    if call is not None:
        try:
            result["result"] = call()
        except Exception as exc:
            result["failed"] = f"{type(exc).__name__}: {first_line(exc)}"[:300]
    result["seconds"] = time.perf_counter() - started
    profiler.current = "close"
    ws.close()
    profiler.stop()
    result["stage_peak_mib"] = profiler.peak_mib.get(stage, 0.0)
    emit(json.loads(json.dumps(result, default=str)))


def run_child(args: Sequence[str], *, spill: Path | None = None) -> dict[str, Any]:
    """Run ``python ARGS`` (which prints one JSON object last) and add its peak RSS in MiB,
    and with ``spill`` the peak size of that folder (``peak_spill_mib``: DuckDB's spill files).

    The parent polls the child's process tree every 50 ms; the child also reports its own
    high-water mark (``self_maxrss_mib``). The larger of the two is the peak. A child that
    crashes (or is killed) yields ``{"error": ...}`` so the other runs still get reported.
    """
    started = time.perf_counter()
    proc = psutil.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    peak = spilled = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc))
        spilled = max(spilled, _folder_bytes(spill)) if spill else 0
        time.sleep(POLL_SECONDS)
    out = proc.stdout.read() if proc.stdout else ""
    lines = out.strip().splitlines()
    if proc.returncode or not lines:
        result: dict[str, Any] = {
            "error": f"child exited with code {proc.returncode}",
            "load_seconds": time.perf_counter() - started,
        }
    else:
        result = json.loads(lines[-1])
    result["peak_mib"] = max(peak / MIB, result.get("maxrss_mib", 0.0))
    if spill:
        result["peak_spill_mib"] = spilled / MIB
    return result


def _folder_bytes(folder: Path) -> int:
    """The bytes of the files in ``folder`` now (0 while it does not exist); files come and go
    as they are read."""
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    total += entry.stat().st_size
    except OSError:
        return 0
    return total


def _tree_rss(proc: psutil.Process) -> int:
    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs)
    except psutil.Error:
        return 0


def self_maxrss_mib() -> float:
    """This process's own peak RSS so far, in MiB.

    Linux's ``VmHWM`` belongs to the process's current memory image, which ``exec`` starts
    afresh; ``ru_maxrss`` instead carries over the parent's peak at fork, so a child spawned by
    a parent that grew while generating data would report the parent's peak as its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # KiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """Print a child's result as the last stdout line, with its own peak RSS."""
    result["maxrss_mib"] = self_maxrss_mib()
    print(json.dumps(result), flush=True)


class StepProfiler:
    """Wall time and peak RSS per loader step, by wrapping module functions in this process.

    Bench-only instrumentation: the functions the loader calls through module globals are
    replaced by timing wrappers; nothing in ``src/`` changes. A sampler thread attributes the
    process RSS (every 50 ms) to the step running at the time.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}
        self.current = "setup"
        self.failed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def wrap(self, module: Any, names: Sequence[str], prefix: str = "") -> None:
        for name in names:
            setattr(module, name, self._timed(prefix + name, getattr(module, name)))

    def _timed(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            outer, self.current = self.current, label
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            except BaseException:
                self.failed = self.failed or label  # the innermost step that raised
                raise
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
                self.current = outer

        return timed

    def step(self, name: str, call: Callable[[], Any]) -> Any:
        """``call()`` timed as step ``name``: its seconds and peak RSS land under that name."""
        return self._timed(name, call)()

    def start(self) -> StepProfiler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(POLL_SECONDS):
            rss = me.memory_info().rss / MIB
            step = self.current
            self.peak_mib[step] = max(self.peak_mib.get(step, 0.0), rss)


def instrument_loader() -> StepProfiler:
    """Wrap the loader's steps and identity resolution's sub-steps with a StepProfiler."""
    from patron.identity import resolve
    from patron.ingest import loader

    profiler = StepProfiler()
    profiler.wrap(
        loader,
        [
            "_read",
            "ensure_phone_cache",
            "classify",
            "quarantine_rows",
            "_drop_raw",
            "_apply",
            "resolve_new_records",
            "link_returns",
            "rebuild_customers",
            "rebuild_occasions",
            "_drop_temp",
            "_record",
        ],
    )
    profiler.wrap(
        resolve,
        [
            "_record_identifiers",
            "_add_edges",
            "_block_promiscuous",
            "_components",
            "_assign_keys",
            "_identifier_keys",
        ],
        prefix="resolve.",
    )
    return profiler.start()


class PhaseClock:
    """The loader's progress callback: seconds from each phase's start to the next's.

    It also tells the profiler which phase runs, so statements that are not a wrapped function
    (the staging ``CREATE TABLE``, the ``COMMIT``) get their own memory peak.
    """

    def __init__(self, profiler: StepProfiler | None = None) -> None:
        self.marks: list[tuple[str, float]] = []
        self.profiler = profiler

    def __call__(self, phase: str) -> None:
        name = phase.split(" ", 1)[0] if phase.startswith(("reading", "validating")) else phase
        self.marks.append((name, time.perf_counter()))
        if self.profiler:
            self.profiler.current = name

    def durations(self, end: float) -> dict[str, float]:
        out: dict[str, float] = {}
        stamps = [*self.marks, ("end", end)]
        for (name, start), (_, stop) in itertools.pairwise(stamps):
            out[name] = out.get(name, 0.0) + stop - start
        return out


STEPS = (
    "_read",
    "ensure_phone_cache",
    "validating",
    "classify",
    "quarantine_rows",
    "_drop_raw",
    "_apply",
    "resolve_new_records",
    "resolve._record_identifiers",
    "resolve._add_edges",
    "resolve._block_promiscuous",
    "resolve._components",
    "resolve._assign_keys",
    "resolve._identifier_keys",
    "link_returns",
    "rebuild_customers",
    "rebuild_occasions",
    "_drop_temp",
    "_record",
    "committing",
)
"""Loader steps in execution order; ``validating`` and ``committing`` are progress phases."""


def profiled_load(ws: Any, table: str, path: str) -> dict[str, Any]:
    """Run ``ws.load`` with step timing; the LoadResult fields plus ``steps`` and phases.

    A failed load (e.g. DuckDB out of memory) is reported as ``error`` with the steps it got
    through, because where it failed is the finding.
    """
    profiler = instrument_loader()
    clock = PhaseClock(profiler)
    started = time.perf_counter()
    try:
        result = ws.load(table, [path], progress=clock).to_dict()
    except Exception as exc:
        result = {"error": f"{type(exc).__name__} in {profiler.failed or profiler.current}: "
                  f"{first_line(exc)}"}  # fmt: skip
    end = time.perf_counter()
    profiler.stop()
    phases = clock.durations(end)
    steps = {}
    for name in STEPS:
        seconds = phases.get(name) if name in ("validating", "committing") else None
        seconds = profiler.seconds.get(name) if seconds is None else seconds
        peaks = [v for k, v in profiler.peak_mib.items() if k == name or _inside(k, name)]
        if seconds is not None:
            steps[name] = [seconds, max(peaks, default=0.0)]
    return {**result, "load_seconds": end - started, "phases": phases, "steps": steps}


def _inside(label: str, step: str) -> bool:
    return step == "resolve_new_records" and label.startswith("resolve.")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row, raw in zip(cells, rows, strict=True):
        parts = [
            c.rjust(w) if isinstance(v, int | float) else c.ljust(w)
            for c, v, w in zip(row, raw, widths, strict=True)
        ]
        print("  ".join(parts))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_steps(runs: list[dict[str, Any]]) -> None:
    """Where each patron run's time and memory went, step by step (seconds / peak MiB)."""
    patron = [r for r in runs if "steps" in r]
    headers = ["step", *(f"{r['case'].removeprefix('patron ')} {r['rows']:,}" for r in patron)]
    table = []
    for step in STEPS:
        cells = [_step_cell(r["steps"].get(step)) for r in patron]
        if any(cells):
            table.append([step, *cells])
    table.append(["total", *(_step_cell([r["load_seconds"], r["peak_mib"]]) for r in patron)])
    print("seconds / peak RSS MiB per loader step (peak = process RSS while the step ran)")
    print_table(headers, table)


def _step_cell(value: list[float] | None) -> str:
    """``seconds / peak``; the peak is ``-`` when the step ended before the first sample."""
    if not value:
        return ""
    peak = f"{value[1]:6.0f}" if value[1] else "     -"
    return f"{value[0]:7.2f} s {peak}"
