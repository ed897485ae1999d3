"""rnndsl's own fuzzer (`make fuzz`): mutated specs through the front end, some accepted ones lowered and run.

    python tests/fuzz_campaign.py [--minutes 10] [--seed S] [--out out/fuzz] [--lower-every 20]

A mutant is a seed (specs/std/*.rnn, examples/*.rnn, tests/fuzzing.py's SEEDS, or a mutant accepted
earlier) with one to three mutations drawn by `random.Random(seed)` (tests/mutations.py).

Each mutant goes through the front end: *accepted*, *rejected* (only `RnnDslError`s, each rendering to a
str with no traceback) or a *failure* (any other exception, a time limit passed, the memory limit hit, a
dead worker). One accepted mutant in N is also lowered: its cells and networks built by `Program.build`,
run on random input (batch 2, 3 steps) and differentiated; there an `RnnDslError` is a refusal.

Inputs run in worker processes (one for the front end, one that imports TensorFlow once) under an
address-space and a per-input time limit, restarted after a failure. Failures are deduplicated by
(exception type, innermost rnndsl frame); the shortest input of each is kept as OUT/failures/NAME.rnn
with NAME.json (traceback, file name, import folder, build calls); the figures go to OUT/summary.json
and a table. The exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import importlib.util
import json
import math
import multiprocessing
import os
import random
import re
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from mutations import Mutator, Seed, load_seeds

PACKAGE = os.path.join(importlib.util.find_spec("rnndsl").submodule_search_locations[0], "")
GRACE_S = 5.0  # past a worker's own time limit, before it is killed
STARTUP_S = 180.0  # for a fresh worker to import rnndsl (and TensorFlow)
MAX_POOL_TEXT = 20_000  # accepted mutants longer than this are not mutated further
MAX_RUN = 10**7  # numbers (inputs and weights) of the largest model run forward


# ---------------------------------------------------------------- the work, in a worker process


class Hang(BaseException):
    """The per-input time limit passed (no `except Exception` in rnndsl takes it)."""


class BadDiagnostic(Exception):
    """A diagnostic that is no `RnnDslError` or renders badly; a verdict that changes on a second try."""


def front_end(text: str, file: str, base_dir: str):
    """rnndsl's front end on one text, the one place it is called: (Program or None, diagnostics)."""
    from rnndsl.program import compile_text

    return compile_text(text, file, Path(base_dir))


def check(job: dict) -> dict:
    """Compile a mutant: accepted, or rejected with well-formed diagnostics (anything else raises)."""
    from rnndsl.lang.errors import RnnDslError, SpecErrors

    try:
        program, errors = front_end(job["text"], job["file"], job["base_dir"])
    except RnnDslError as e:  # a text rnndsl will not read at all (too large, say)
        program, errors = None, [e]
    for e in errors:
        shown = e.render() if isinstance(e, RnnDslError) else None
        if not isinstance(shown, str) or "Traceback" in shown:
            raise BadDiagnostic(f"diagnostic {type(e).__name__} renders as {shown!r:.300}")
    if errors:
        SpecErrors(errors).render()  # what `rnndsl check` prints
        return {"outcome": "rejected", "codes": sorted({e.code for e in errors})}
    program.explain()
    return {"outcome": "accepted"}


def lower(job: dict) -> dict:
    """Build every cell and network the mutant defines; run each forward and backward on random input."""
    import keras
    import numpy as np
    import tensorflow as tf
    from rnndsl.lang.errors import RnnDslError

    program, errors = front_end(job["text"], job["file"], job["base_dir"])
    if errors:
        raise BadDiagnostic(f"an accepted spec is rejected when compiled again: {errors[0].render()}")
    rng, np_rng = random.Random(job["seed"]), np.random.default_rng(job["seed"])
    result = {"outcome": "lowered", "built": [], "refused": [], "calls": []}
    for name in program.main:
        free = {k: {"int": rng.choice((1, 2, 3)), "float": 0.5, "bool": False}.get(h.type, "s")
                for k, h in program.graph(name).header.hparams.items() if h.default is None}
        step = "build"
        try:
            model = _build(program, name, {"fused": rng.random() < 0.5, **free}, result["calls"])
            step = "run forward and backward"
            shapes = [(2,) + tuple(3 if d is None else d for d in x.shape[1:]) for x in model.inputs]
            if sum(math.prod(s) for s in shapes) + model.count_params() > MAX_RUN:
                result["calls"][-1] += "  # too large to run"
                continue
            # token ids inside every vocabulary (an id past it is the data's error, which TensorFlow reports)
            ids = min([layer.input_dim for layer in model._flatten_layers()
                       if isinstance(layer, keras.layers.Embedding)] + [2])
            xs = [_chains(s) if x.name.endswith("children") else
                  np_rng.integers(0, ids, s).astype("int32") if "int" in str(x.dtype) else
                  np_rng.standard_normal(s).astype("float32") for s, x in zip(shapes, model.inputs)]
            with tf.GradientTape() as tape:
                ys = model(xs if len(xs) > 1 else xs[0], training=True)
                loss = sum(tf.reduce_mean(tf.cast(y, "float32")) for y in tf.nest.flatten(ys))
            tape.gradient(loss, model.trainable_variables)
            result["built"].append(name)
        except RnnDslError as e:
            result["outcome"] = "refused"
            result["refused"].append(f"{name}: {e.render().splitlines()[0]}")
        except BaseException as e:
            e.add_note(f"fuzz_campaign: {step}: {result['calls'][-1] if result['calls'] else name}")
            raise
        finally:
            keras.backend.clear_session()
    return result


def _chains(shape):
    """The children of trees that are chains, node j's first child j + 1 (rnndsl.keras.tree's layout)."""
    import numpy as np

    _, nodes, _ = shape
    children = -np.ones(shape, "int32")
    children[:, :-1, 0] = np.arange(1, nodes)
    return children


def _build(program, name: str, kwargs: dict, calls: list):
    """`program.build(name, **kwargs)`; a cell that leaves its input size open is built again with input_size=3."""
    from rnndsl.lang.errors import UsageError

    calls.append(f"build({name!r}, **{kwargs})")
    try:
        return program.build(name, **kwargs)
    except UsageError:
        if name not in program.cells:
            raise
    calls[-1] = f"build({name!r}, input_size=3, **{kwargs})"
    return program.build(name, input_size=3, **kwargs)


TASKS = {"check": check, "lower": lower}


def _frame(frames: list) -> tuple[str, int]:
    """'rnndsl/MODULE.py:FUNCTION' of the innermost rnndsl frame (else the innermost frame), and its line."""
    file, line, func = ([f for f in frames if f[0].startswith(PACKAGE)] or frames or [("?", 0, "?")])[-1]
    return f"{os.path.relpath(file, os.path.dirname(PACKAGE.rstrip(os.sep)))}:{func}", line


def _failure(e: BaseException) -> dict:
    """A failure's record; an exception that wraps another (`raise ... from`, lark's VisitError) is
    placed, and named, by what it wraps."""
    chain = [e]
    while len(chain) < 8 and (inner := chain[-1].__cause__ or getattr(chain[-1], "orig_exc", None)) is not None:
        chain.append(inner)
    frames = [(f.filename, f.lineno, f.name) for x in chain for f in traceback.extract_tb(x.__traceback__)]
    kind = "Timeout" if isinstance(e, Hang) else type(e).__name__
    kind += f"({type(chain[-1]).__name__})" if len(chain) > 1 else ""
    try:
        message = str(e)
    except Exception:  # noqa: BLE001 - an exception that cannot say what it is
        message = "?"
    return _failure_record(kind, message, frames, "".join(traceback.format_exception(type(e), e, e.__traceback__)))


def _failure_record(kind: str, message: str, frames: list, text: str) -> dict:
    where, line = _frame(frames)
    return {"outcome": "failure", "type": kind, "message": message[:500], "where": where, "line": line,
            "traceback": text[-8000:]}


def _on_alarm(signum, frame):
    raise Hang("the per-input time limit passed")


def _serve(conn, task: str, limit: float, memory_gib: float, init: str, log_path: str) -> None:
    """A worker's loop: receive a job, run TASKS[task] on it under the limits, send back the outcome."""
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_gib * 2**30),) * 2)
    log = open(log_path, "w")  # stderr, and faulthandler's stacks: on a fatal signal, or a hang in C code
    os.dup2(log.fileno(), 2)
    faulthandler.enable(log)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    if init:
        module, _, func = init.partition(":")
        getattr(importlib.import_module(module), func)()
    if task == "lower":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    signal.signal(signal.SIGALRM, _on_alarm)
    conn.send("ready")
    while True:
        job = conn.recv()
        faulthandler.dump_traceback_later(limit + GRACE_S / 2, file=log)
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            result = TASKS[task](job)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as e:  # noqa: BLE001 - every exception is an outcome to report
            signal.setitimer(signal.ITIMER_REAL, 0)
            result = _failure(e)
        faulthandler.cancel_dump_traceback_later()
        conn.send(result)


class Worker:
    """A worker process for one task, started on first use and again after each failure."""

    def __init__(self, task: str, limit: float, args):
        self.task, self.limit, self.args = task, limit, args
        self.log = Path(args.out) / f"worker-{task}.log"
        self.proc = self.conn = self.exitcode = None
        self.starts = 0

    def call(self, job: dict) -> dict:
        if self.proc is None:
            self._start()
        self.conn.send(job)
        try:
            if not self.conn.poll(self.limit + GRACE_S):
                return self._lost("Timeout")
            result = self.conn.recv()
        except (EOFError, OSError):
            return self._lost("WorkerDied")
        if result["outcome"] == "failure":
            self.stop()  # its state may be broken: a fresh worker takes the next input
        return result

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, daemon=True, args=(
            child, self.task, self.limit, self.args.memory_gib, self.args.init, str(self.log)))
        self.proc.start()
        child.close()
        if not self.conn.poll(STARTUP_S) or self.conn.recv() != "ready":
            raise RuntimeError(f"the {self.task} worker did not start; see {self.log}")
        self.starts += 1

    def _lost(self, kind: str) -> dict:
        """The failure of a worker that hung or died, placed where faulthandler last saw it."""
        self.proc.join(GRACE_S if kind == "WorkerDied" else 0)
        self.stop()
        stack = re.split(r"(?m)^(?=Timeout \(|Fatal Python error)", self.log.read_text(errors="replace"))[-1]
        frames = re.findall(r'File "(.*)", line (\d+) in (\S+)', stack)[::-1]  # faulthandler: innermost first
        message = f"no answer in {self.limit + GRACE_S:.0f} s" if kind == "Timeout" else f"exit status {self.exitcode}"
        return _failure_record(kind, message, [(f, int(n), fn) for f, n, fn in frames], stack)

    def stop(self) -> None:
        if self.proc is not None:
            self.exitcode = self.proc.exitcode  # None while it runs: it is killed
            self.proc.kill()
            self.proc.join()
            self.conn.close()
        self.proc = self.conn = None


# ---------------------------------------------------------------- the campaign


class Campaign:
    """Mutants through the front end until the time is up: counts, and each distinct failure once."""

    def __init__(self, args):
        self.args, self.out = args, Path(args.out)
        self.rng = random.Random(args.seed)
        self.mutator = Mutator(self.rng)
        self.seeds = load_seeds()
        self.pool: list[Seed] = []  # accepted mutants, mutated further
        self.counts, self.codes, self.refusals = Counter(), Counter(), Counter()
        self.kinds: dict = {}  # mutation kind -> Counter of the outcomes of the mutants it made
        self.failures: dict = {}  # (type, where) -> record
        (self.out / "failures").mkdir(parents=True, exist_ok=True)
        self.check = Worker("check", args.time_limit, args)
        self.lower = Worker("lower", args.lower_time_limit, args)

    def run(self) -> dict:
        start = time.monotonic()
        deadline, last_lowered, waiting = start + self.args.minutes * 60, -math.inf, 0
        try:
            while time.monotonic() < deadline and self.counts["mutants"] < self.args.max_mutants:
                seed = self.rng.choice(self.pool if self.pool and self.rng.random() < 0.25 else self.seeds)
                text, applied = self.mutator.mutate(seed.text)
                job = {"text": text, "file": seed.name, "base_dir": seed.base_dir}
                outcome = self._count("check", self.check.call(job), job)
                self.counts["mutants"] += 1
                for kind in applied:
                    self.kinds.setdefault(kind, Counter())[outcome] += 1
                if outcome != "accepted":
                    continue
                if len(text) <= MAX_POOL_TEXT:
                    self.pool.append(Seed(seed.name, text, seed.base_dir))
                waiting += 1
                if self.args.lower_every and waiting >= self.args.lower_every and \
                        time.monotonic() - last_lowered >= self.args.lower_interval:
                    waiting, last_lowered = 0, time.monotonic()
                    job["seed"] = self.rng.getrandbits(32)
                    self._count("lower", self.lower.call(job), job)
        except KeyboardInterrupt:  # the figures so far
            pass
        finally:
            self.check.stop()
            self.lower.stop()
        return self._summary(time.monotonic() - start)

    def _count(self, stage: str, result: dict, job: dict) -> str:
        """Count `result`; keep a failure's input as a reproducer when its kind is new or the input shorter."""
        self.counts[stage + " " + result["outcome"]] += 1
        self.counts["models built"] += len(result.get("built", ()))
        self.codes.update(result.get("codes", ()))
        self.refusals.update(r.split(": ", 1)[-1][:100] for r in result.get("refused", ()))
        if result["outcome"] == "failure":
            name = re.sub(r"[^\w().-]", "_", f"{len(self.failures) + 1:02d}-{result['type']}-"
                                                 f"{result['where'].rsplit(':', 1)[-1]}")
            record = self.failures.setdefault((result["type"], result["where"]), {"count": 0, "stage": stage,
                                                                                  "name": name})
            record["count"] += 1
            if "text" not in record or len(job["text"]) < len(record["text"]):
                record.update(result, **job)
                path = self.out / "failures" / record["name"]
                path.with_suffix(".rnn").write_text(job["text"], encoding="utf-8", newline="")
                path.with_suffix(".json").write_text(json.dumps({k: v for k, v in record.items() if k != "text"},
                                                                indent=1))
        return result["outcome"]

    def _summary(self, elapsed: float) -> dict:
        c = self.counts
        failures = [{"type": t, "where": w, **{k: r[k] for k in ("count", "stage", "message", "line", "name")}}
                    for (t, w), r in sorted(self.failures.items(), key=lambda kv: -kv[1]["count"])]
        summary = {
            "seed": self.args.seed, "seconds": round(elapsed, 1), "mutants": c["mutants"],
            "accepted": c["check accepted"], "rejected": c["check rejected"],
            "lowered": c["lower lowered"] + c["lower refused"], "lowered_and_refused": c["lower refused"],
            "failures": c["check failure"] + c["lower failure"], "distinct_failures": len(failures),
            "lowering_failures": c["lower failure"], "models_built": c["models built"],
            "inputs_per_second": round(c["mutants"] / max(elapsed, 1e-9), 1),
            "worker_starts": {"check": self.check.starts, "lower": self.lower.starts},
            "failure_list": failures, "refusals": dict(self.refusals.most_common()),
            "codes": dict(self.codes.most_common()),
            "mutation_kinds": {k: dict(v) for k, v in sorted(self.kinds.items())},
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary


def report(s: dict, out: str) -> str:
    """The summary table printed at the end of a run."""
    rows = [("mutants", s["mutants"]), ("accepted", s["accepted"]), ("rejected", s["rejected"]),
            ("lowered", s["lowered"]), ("lowered and refused", s["lowered_and_refused"]),
            ("failures", f"{s['failures']} ({s['distinct_failures']} distinct)"),
            ("inputs/second", s["inputs_per_second"])]
    lines = [f"fuzz campaign, seed {s['seed']}, {s['seconds']} s"] + [f"  {k:<20} {v}" for k, v in rows]
    lines += [f"  {f['count']:>5} x {f['type']} in {f['where']} (line {f['line']}, {f['stage']}): "
              f"{f['message'][:100]!r} -> {out}/failures/{f['name']}.rnn" for f in s["failure_list"]]
    return "\n".join(lines)


OPTIONS = [  # flag, type, default, metavar, help
    ("--minutes", float, 10.0, "M", "how long to run"),
    ("--seed", int, None, "S", "the mutator's seed (default: a fresh one, printed)"),
    ("--out", str, "out/fuzz", "DIR", "where reproducers, worker logs and summary.json go"),
    ("--lower-every", int, 20, "N", "lower one accepted mutant in N (0: none)"),
    ("--lower-interval", float, 2.0, "S", "at most one lowering every S seconds"),
    ("--max-mutants", int, sys.maxsize, "N", "stop after N mutants"),
    ("--time-limit", float, 10.0, "S", "per input, in the front end"),
    ("--lower-time-limit", float, 60.0, "S", "per input lowered"),
    ("--memory-gib", float, 4.0, "G", "a worker's address-space limit"),
    ("--init", str, "", "MODULE:FUNCTION", "called in each worker before its first input (tests plant bugs)"),
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag, kind, default, metavar, text in OPTIONS:
        shown = f" (default {default})" if default not in (None, "", sys.maxsize) and "default" not in text else ""
        p.add_argument(flag, type=kind, default=default, metavar=metavar, help=text + shown)
    args = p.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"fuzzing for {args.minutes} min with seed {args.seed}; reproducers go to {args.out}/failures", flush=True)
    summary = Campaign(args).run()
    print(report(summary, args.out))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
