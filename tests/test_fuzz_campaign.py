"""The fuzzer of `make fuzz` (tests/fuzz_campaign.py) itself: its mutations, a short clean run, and
planted bugs (an exception, a hang, a memory blow-up, a crash) reported as failures with a reproducer.

The plant_* functions run inside the fuzzer's worker processes (its --init option), where they break
a pass of rnndsl's front end.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

import fuzz_campaign
import mutations
from rnndsl.lang.errors import RnnDslError


def _run(tmp_path, *options):
    status = fuzz_campaign.main(["--seed", "0", "--out", str(tmp_path), *options])
    return status, json.loads((tmp_path / "summary.json").read_text())


def test_every_mutation_applies_and_is_reproducible():
    seeds = mutations.load_seeds()
    assert len(seeds) >= 30 and all(s.text for s in seeds)
    texts = {}
    for run in range(2):
        mutator = mutations.Mutator(random.Random(7))
        texts[run] = [mutator.mutate(seed.text) for seed in seeds for _ in range(20)]
    assert texts[0] == texts[1]
    applied = {kind for _, kinds in texts[0] for kind in kinds}
    assert applied == set(mutations.Mutator(random.Random(0)).kinds)
    assert {"number", "delay", "dimension", "operator", "name", "arith", "equation", "drop_line", "nest"} <= applied


def test_structure_aware_mutations_keep_many_specs_valid():
    mutator = mutations.Mutator(random.Random(1))
    seeds = [s for s in mutations.load_seeds() if "/examples" not in s.base_dir][:18]
    valid = 0
    for seed in seeds:
        for kind in ("number", "delay", "dimension", "operator"):
            text = getattr(mutator, "_m_" + kind)(seed.text) or seed.text
            _, errors = fuzz_campaign.front_end(text, seed.name, seed.base_dir)
            assert all(isinstance(e, RnnDslError) for e in errors)
            valid += not errors
    assert valid >= len(seeds)  # one in four or more


def test_a_short_run_finds_no_failures(tmp_path, capsys):
    status, s = _run(tmp_path, "--minutes", str(20 / 60), "--lower-every", "10", "--lower-interval", "0")
    assert s["mutants"] >= 100 and s["accepted"] > 0 and s["rejected"] > 0 and s["lowered"] > 0
    assert s["accepted"] + s["rejected"] + s["failures"] - s["lowering_failures"] == s["mutants"]
    table = capsys.readouterr().out
    for figure in ("mutants", "accepted", "rejected", "lowered", "failures", "inputs/second"):
        assert figure in table
    assert (status, s["failures"]) == (0, 0), fuzz_campaign.report(s, str(tmp_path))


def plant_keyerror():
    import rnndsl.lang.specfiles

    def check(text, file):
        raise KeyError("%2")

    rnndsl.lang.specfiles.check_size = check


def plant_hang():
    import rnndsl.lang.specfiles

    rnndsl.lang.specfiles.check_size = lambda text, file: time.sleep(60)


def plant_stuck():  # a hang where the time limit's signal is not heard (as in C code): the worker is killed
    import rnndsl.lang.specfiles

    def check(text, file):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(60)

    rnndsl.lang.specfiles.check_size = check


def plant_memory_hog():
    import rnndsl.lang.specfiles

    # calloc: no page is touched
    rnndsl.lang.specfiles.check_size = lambda text, file: [bytes(256 << 20) for _ in range(10**4)]


def plant_crash():
    import rnndsl.lang.specfiles

    rnndsl.lang.specfiles.check_size = lambda text, file: os.abort()


@pytest.mark.parametrize("plant, kind", [("plant_keyerror", "KeyError"), ("plant_hang", "Timeout"),
                                         ("plant_stuck", "Timeout"), ("plant_memory_hog", "MemoryError"),
                                         ("plant_crash", "WorkerDied")])
def test_a_planted_bug_is_reported_with_a_reproducer(tmp_path, plant, kind):
    status, s = _run(tmp_path, "--max-mutants", "4", "--lower-every", "0", "--time-limit", "1",
                     "--memory-gib", "1", "--init", f"test_fuzz_campaign:{plant}")
    assert status == 1 and s["failures"] >= 1
    [failure] = s["failure_list"]
    assert (failure["type"], failure["where"], failure["stage"]) == (kind, "rnndsl/lang/pipeline.py:check_text", "check")
    reproducer = tmp_path / "failures" / failure["name"]
    assert reproducer.with_suffix(".rnn").read_text()
    assert json.loads(reproducer.with_suffix(".json").read_text())["type"] == kind
