#!/usr/bin/env python3
"""Counts the instructions each relay of the relay bench executes per call, by thread and
by part, under valgrind's callgrind: the one figure of a call's cost that is the same on
every x86-64 machine (wall-clock and CPU time move with the VM; instruction counts do not).

    python3 bench/instructions.py [CALLS]

Builds nothing: run `cargo bench --bench relay --no-run` first. Needs valgrind
(`apt-get install valgrind`). Runs the relay bench once (one round of CALLS sequential
read-only calls, 2000 by default, after 200 warm-up calls, no large result) with the
relays and countersign under callgrind, then prints, for the bare relay, the loop relay
and countersign (over pipes), the instructions per call of each thread and, for
countersign, of each part.

Caveats: under valgrind, sha2 takes its portable code path (valgrind has no SHA
extensions), which costs about 25 times the instructions of the SHA-NI path a real run
takes; that part is shown on its own line. Start-up work (compiling the secret patterns,
reading the command line) is spread over the calls and shown on its own line too.
"""
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

WARMUP = 200
SETUPS = [("--role-relay", "bare relay"), ("--role-loop-relay", "loop relay"), ("--headless", "countersign")]
PARTS = [
    ("sha2::", "SHA-256 (portable code under valgrind)"),
    ("regex", "start-up (secret patterns)"),
    ("aho_corasick", "start-up (secret patterns)"),
    ("clap", "start-up (secret patterns)"),
    ("countersign::core::json", "core: JSON scanning and reading"),
    ("countersign::core::digest", "core: canonical form and escaping"),
    ("countersign::core::audit", "core: audit records, redaction"),
    ("countersign::core::session", "core: the session"),
    ("countersign::core", "core: other"),
    ("countersign::relay", "relay: the owner task, readers, writers"),
    ("countersign::edge", "edge: audit queue and writer, lines"),
    ("tokio::", "tokio: runtime, I/O driver, channels"),
    ("malloc", "allocator"),
    ("free", "allocator"),
    ("alloc::", "allocator"),
    ("mem", "memcpy, memchr and the like"),
    ("hash", "std hash maps"),
]


def part_of(function):
    for needle, part in PARTS:
        if needle in function:
            return part
    return "other"


def self_costs(path):
    out = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100", path], capture_output=True, text=True, check=True
    ).stdout
    costs = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            costs[m.group(2)] += int(m.group(1).replace(",", ""))
    return costs


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    per_process = calls + WARMUP
    with tempfile.TemporaryDirectory() as scratch:
        wrap = f"valgrind -q --tool=callgrind --separate-threads=yes --callgrind-out-file={scratch}/cg.%p"
        env = dict(os.environ, CS_BENCH_WRAP=wrap, CS_BENCH_ROUNDS="1", CS_BENCH_CALLS=str(calls))
        env.update(CS_BENCH_WARMUP=str(WARMUP), CS_BENCH_BIG_REPS="0", CS_BENCH_TIMEOUT_S="1800")
        bench = ["cargo", "bench", "--bench", "relay"]
        subprocess.run(bench, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # One file per thread, named cg.PID-THREAD; the first countersign is the one over pipes.
        by_pid = collections.defaultdict(list)
        for path in glob.glob(f"{scratch}/cg.*-*"):
            pid, thread = os.path.basename(path)[len("cg."):].split("-")
            by_pid[int(pid)].append((int(thread), path))
        seen = set()
        for pid in sorted(by_pid):
            threads = sorted(by_pid[pid])
            with open(threads[0][1], errors="replace") as f:
                cmd = next((line for line in f if line.startswith("cmd:")), "")
            name = next((n for flag, n in SETUPS if f" {flag}" in cmd.split(" -- ")[0]), None)
            if name is None or name in seen:
                continue
            seen.add(name)
            print(f"{name}: instructions per call ({per_process} calls)")
            total = 0
            for thread, path in threads:
                costs = self_costs(path)
                count = sum(costs.values())
                total += count
                if count < per_process:
                    continue
                print(f"  thread {thread}: {count / per_process:9,.0f}")
                if name == "countersign":
                    parts = collections.Counter()
                    for function, cost in costs.items():
                        parts[part_of(function)] += cost
                    for part, cost in parts.most_common():
                        if cost >= per_process:
                            print(f"      {cost / per_process:9,.0f}  {part}")
            print(f"  all threads: {total / per_process:9,.0f}")


if __name__ == "__main__":
    main()
