# SPDX-License-Identifier: LGPL-2.1-or-later
"""Command line of tests/lab/lab.

  lab prepare [--flavour busybox|systemd|all]
        fill the cache and print how long each part took
  lab run --scenario FILE [--flavour F] [--interactive] [--keep] [--quiet] ...
        boot one scenario, streaming the serial console; exit 0 if it passed
  lab test --scenario FILE
        what meson runs: no streaming, the serial tail on failure, the
        scenario's host-side checks, exit 77 when the machine cannot run it

Exit codes: 0 passed, 1 failed, 2 usage or harness error, 77 skipped.
"""

import argparse
import os
import sys

from . import lab
from .scenario import Scenario
from .util import EXIT_SKIP, LabError, Skip, Timings, log


def _paths(args):
    build = args.build or os.environ.get("HVT_BUILD_ROOT")
    if not build:
        build = os.path.join(os.path.dirname(os.path.dirname(lab.HERE)), "build")
    return lab.Paths(build, args.cache)


def _common(p):
    p.add_argument("--build", help="meson build directory (default: $HVT_BUILD_ROOT, else SOURCE/build)")
    p.add_argument("--cache", help="cache directory (default: $HVT_LAB_CACHE, else BUILD/lab-cache)")


def parse(argv):
    ap = argparse.ArgumentParser(prog="lab", description="hvtorture's lab: real kernels under QEMU.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="fill the cache (kernel, busybox, initramfs, debootstrap root)")
    _common(p)
    p.add_argument("--flavour", choices=["busybox", "systemd", "all"], default="all")
    p.add_argument("--refresh", action="store_true",
                   help="ask apt for the current kernel and busybox versions instead of the cached ones")

    for name, text in (("run", "boot one scenario and stream its console"),
                       ("test", "boot one scenario and run its checks (for meson)")):
        p = sub.add_parser(name, help=text)
        _common(p)
        p.add_argument("--scenario", required=True, help="guest script, e.g. tests/lab/scenarios/kvm-nested.sh")
        p.add_argument("--flavour", choices=["busybox", "systemd"],
                       help="guest flavour (default: the scenario's lab-flavour)")
        p.add_argument("--results", help="results directory (default BUILD/lab-results/NAME)")
        p.add_argument("--deadline", type=int, help="seconds before QEMU is killed (default: the scenario's)")
        p.add_argument("--append", action="append", default=[], help="extra kernel command-line word(s)")
        p.add_argument("--keep", action="store_true", help="keep the disk images and initramfs in RESULTS/work")
        p.add_argument("--tcg", choices=["single", "multi"],
                       help="TCG threading (default: the scenario's lab-tcg, else single; see docs/lab.md)")
        if name == "run":
            p.add_argument("--interactive", action="store_true",
                           help="give the console to the terminal; a shell after the scenario, no deadline")
            p.add_argument("--quiet", action="store_true", help="do not stream the serial console")
            p.add_argument("--no-check", action="store_true", help="skip the scenario's host-side .check")
    return ap.parse_args(argv)


def cmd_prepare(args):
    paths = _paths(args)
    timings = Timings()
    flavours = ["busybox", "systemd"] if args.flavour == "all" else [args.flavour]
    for flavour in flavours:
        lab.prepare(paths, flavour, [], timings, refresh=args.refresh)
        args.refresh = False  # once is enough
    for name, seconds in timings.items:
        print(f"{name}: {seconds:.1f}s")
    print(f"cache: {paths.cache}")
    return 0


def cmd_run(args, for_meson):
    paths = _paths(args)
    scenario = Scenario(args.scenario)
    if args.tcg:
        scenario.tcg = args.tcg
    interactive = getattr(args, "interactive", False)
    outcome = lab.run_scenario(
        paths, scenario,
        flavour=args.flavour,
        interactive=interactive,
        keep=args.keep,
        stream=not for_meson and not getattr(args, "quiet", False),
        results_dir=args.results,
        deadline=args.deadline,
        extra_append=args.append,
    )
    if outcome.problems:
        lab.print_failure(outcome)
        for note in outcome.notes:
            print(f"lab: note: {note}")
        return 1
    if interactive:
        print("lab: interactive run: host checks skipped (a person steered the guest); run without --interactive for them")
    elif for_meson or not args.no_check:
        if not lab.run_check(paths, scenario, outcome):
            print(f"lab: FAIL: host checks {scenario.check} failed (results: {outcome.results})")
            print(f"lab: full serial log: {os.path.join(outcome.results, 'serial.log')}")
            return 1
    for note in outcome.notes:
        print(f"lab: note: {note}")
    print(f"lab: PASS {scenario.name} in {outcome.boot.seconds:.1f}s of guest time; results: {outcome.results}")
    return 0


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "prepare":
            return cmd_prepare(args)
        return cmd_run(args, for_meson=args.command == "test")
    except Skip as e:
        print(f"lab: SKIP: {e}")
        return EXIT_SKIP
    except LabError as e:
        print(f"lab: ERROR: {e}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
