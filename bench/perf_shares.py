#!/usr/bin/python3
"""Sums a perf profile's samples into coarse shares: where a server's CPU goes by kind of work.

    /usr/bin/python3 bench/perf_shares.py FILE.data [FILE.data ...]

For each `perf record` file, runs `perf report --no-children --sort dso,sym` and adds each
symbol's share to one bucket by its name: the network stack with its copies and slab work; the
scheduler, wake-ups, epoll and clocks; system-call entry and VFS; io_uring's own code; other
kernel; and user space by library. The buckets are name patterns, so they are approximate (a
few per cent may land in "other kernel"), but the same patterns apply to every server, which is
what comparing backends needs (docs/benchmarks.md, "Where the io_uring backend's time goes").
"""
import collections
import re
import subprocess
import sys

NETWORK = re.compile(r"(tcp_|__tcp|ip_|__ip|skb|__skb|kfree_skb|net_|__net|__dev|dev_|inet|__inet|sock_|__sock|sk_|"
                     r"__sk|bbr|lock_sock|release_sock|loopback|netif|__netif|validate_xmit|eth|raw_|__kfree_skb|"
                     r"__alloc_skb|kmem|kmalloc|__kmalloc|kfree|__check_object|__virt_addr|check_heap|copy_|_copy|"
                     r"__copy|memcpy|memset|rep_movs|__build_skb|napi|__napi|dst_|nf_|__local_bh|do_softirq|"
                     r"__do_softirq|handle_softirqs|irq_exit|___slab|__slab|process_backlog)")
SCHEDULER = re.compile(r"(finish_task_switch|__schedule|schedule|try_to_wake|ttwu|select_task|enqueue|dequeue|update_|"
                       r"pick_|psi_|set_next|put_prev|__wake_up|wake_up|_raw_spin|raw_spin|native_|__rseq|rseq|"
                       r"hrtimer|read_tsc|ktime|cpuacct|sched|reweight|avg_|account_|check_preempt|resched|"
                       r"finish_wait|prepare_to_wait|autoremove|default_wake|pollwake|ep_|__ep|epoll|do_epoll|"
                       r"__x64_sys_epoll)")
SYSCALL = re.compile(r"(do_syscall|entry_|syscall_|__x64_sys|__do_sys|ksys_|vfs_|fget|fput|__fget|__fdget|fdget|"
                     r"rw_verify|security_|apparmor|exit_to_user|__audit|audit)")
LINE = re.compile(r"\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)")


def bucket(dso: str, kind: str, sym: str) -> str:
    if kind != "k":
        for lib in ("liburing", "libc", "libstdc++", "vdso"):
            if lib in dso:
                return "user: " + lib
        return "user: the program"
    if sym.startswith(("io_", "__io_")) or "io_uring" in sym:
        return "io_uring"
    if NETWORK.match(sym):
        return "network stack, copies, slab"
    if SCHEDULER.match(sym):
        return "scheduler, wake-ups, epoll, clocks"
    if SYSCALL.match(sym):
        return "system-call entry/exit, VFS"
    return "other kernel"


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        out = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", "dso,sym", "--stdio"],
                             capture_output=True, text=True, check=True).stdout
        shares = collections.Counter()
        for line in out.splitlines():
            m = LINE.match(line)
            if m:
                shares[bucket(m.group(2), m.group(3), m.group(4))] += float(m.group(1))
        print(f"== {path}")
        for name, pct in shares.most_common():
            print(f"  {pct:6.2f} %  {name}")


if __name__ == "__main__":
    main()
