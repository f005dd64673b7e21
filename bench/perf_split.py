#!/usr/bin/env python3
"""Bins the samples of a countersign profile the way docs/performance.md's
"Where a call's CPU goes now" table does.

    perf script -i FILE --comm countersign,countersign-aud -F comm,ip,sym | bench/perf_split.py

FILE is a `perf record --call-graph dwarf` profile of countersign (docs/performance.md,
"Profiling", says how to take one through the relay bench). Each sample goes in one bin
by its stack: kernel (by the system call it is in), the pure core (a
`countersign::core::` frame on the stack, by the step it is in) or the rest of user
space ("plumbing": the runtime, channels, line reading, the writers, the allocator).
Shares are of all samples of the threads given to `--comm`.
"""
import collections
import sys

SYSCALLS = ["writev", "epoll_wait", "ksys_read", "futex", "exit_to_user_mode", "page_fault", "write"]
STEPS = {
    "inbound::read": "core: reading the client's line",
    "client_item": "core: the session's decision and its record",
    "outbound::read": "core: reading the server's line",
    "server_answer": "core: the session's answer and its record",
    "audit::record::render": "core: rendering a record",
    "record::advance": "core: hashing a record into the chain",
}


def bins(frames):
    stack = " ".join(sym for _, sym in frames)
    if frames[0][0].startswith("ffffffff"):
        return "kernel: " + next((s for s in SYSCALLS if s in stack), "other")
    if "countersign::core::" in stack:
        return next((label for key, label in STEPS.items() if key in stack), "core: other")
    return "plumbing"


def main():
    counts = collections.Counter()
    thread, frames = None, []

    def flush():
        if thread is not None and frames:
            counts[(thread, bins(frames))] += 1

    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            thread, frames = None, []
        elif not line.startswith(("\t", " ")):
            thread = line.split()[0]
        else:
            parts = line.strip().split(None, 1)
            frames.append((parts[0], parts[1] if len(parts) > 1 else ""))
    flush()
    total = sum(counts.values()) or 1
    for (thread, what), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"{thread:16} {what:48} {n:7} {100 * n / total:5.1f} %")


if __name__ == "__main__":
    main()
