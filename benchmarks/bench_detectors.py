"""What personal-data detection costs per event, beside just walking the values.

    python benchmarks/bench_detectors.py --events 5000
    python benchmarks/bench_detectors.py --events 5000 --compare-with ccceac3

`--compare-with REF` also measures the detectors of an earlier commit on the same events, in
the same run (the commit's `src/` is exported to a temporary folder and timed in a child
process, alternating with this tree), and prints the ratio of the two detector costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from diagscope.model import Event
from diagscope.pii.canary import CanarySet
from diagscope.pii.scan import scan_event_values, string_values, walk_values


def office_event(rng: random.Random, i: int) -> Event:
    data: dict[str, object] = {
        "App.Name": "Word", "App.Version": "16.0.17328.20162", "App.Platform": "Win32",
        "Session.Id": str(uuid.UUID(int=rng.getrandbits(128))), "Session.Sequence": i,
        "Activity.Duration": rng.randrange(10**6), "Activity.Success": True,
        "Activity.Result.Code": rng.randrange(-10, 10), "Activity.CV": "A1b2C3d4E5f6.1.2",
        "Event.Sequence": i, "Event.SchemaVersion": 4, "Event.Source": "OneCollector",
        "Device.OsBuild": "10.0.22631.4460", "Device.Model": "Latitude 7440",
        "Device.NetworkCost": "Unmetered", "Release.Channel": "MonthlyEnterprise",
        "Release.Fork": "2408", "User.TenantId": str(uuid.UUID(int=rng.getrandbits(128))),
        "User.PrimaryIdentityHash": f"{rng.getrandbits(256):064x}",
        "Consent.DiagnosticConsentLevel": "Neither", "Data.Feature": f"Feature{i % 40}",
        "Data.Latency": rng.random(), "Data.Count": rng.randrange(10**5),
        "Data.ErrorTag": f"0x{rng.randrange(16**8):08X}", "Data.Locale": "nl-NL",
    }
    if i % 20 == 0:
        data["User.Email"] = f"user{i}@minjenv.nl"
    if i % 25 == 0:
        data["Document.Path"] = f"C:\\Users\\u{i}\\Documents\\Ontslagbrief-{i}.docx"
    ext = {"app": {"name": "Word", "ver": "16.0.17328.20162", "id": "WINWORD.EXE"},
           "os": {"name": "Windows", "ver": "10.0.22631.4460"},
           "device": {"localId": "s:8E1F37A2-5C4B-4E1D-9F0A-2B3C4D5E6F70"},
           "sdk": {"ver": "EVT-Windows-C++-No-3.7.62.1", "seq": i}}
    return Event(i, f"Office.Word.Event{i % 40}", ext=ext, data=data)


def timed(fn, events) -> float:
    start = time.perf_counter()
    for event in events:
        fn(event)
    return time.perf_counter() - start


def measure(events_n: int) -> dict[str, float]:
    rng = random.Random(5)
    events = [office_event(rng, i) for i in range(events_n)]
    canaries = CanarySet([("account", "jan.jansen@minjenv.nl"),
                          ("doc", "Ontslagbrief-Canary-7f3a"),
                          ("subject", "Vertrouwelijk: reorganisatie Canary 42"),
                          ("sentence", "De kat zit op de mat Canary 7"),
                          ("name", "Jan Jansen-Canary")])

    def with_canaries(event: Event) -> None:
        scan_event_values(event)
        for _, _, text in string_values(event):
            canaries.find(text)

    walk = timed(lambda e: list(walk_values(e)), events)
    detect = timed(scan_event_values, events)
    both = timed(with_canaries, events)
    return {"walk": walk / events_n * 1e6, "detect": detect / events_n * 1e6,
            "both": both / events_n * 1e6,
            "values": float(sum(1 for _ in walk_values(events[0])))}


def _in_child(src: Path, events_n: int) -> dict[str, float]:
    """One measurement in a fresh process on the library in `src`: no cache carries over."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--events", str(events_n), "--json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    return dict(json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--compare-with", metavar="REF",
                        help="also time the detectors of this git commit, in the same run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --compare-with: alternating rounds; the best of each counts")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.events)))
        return
    if args.compare_with:
        root = Path(__file__).resolve().parent.parent
        here_runs, there_runs = [], []
        with tempfile.TemporaryDirectory() as tmp:
            archive = subprocess.run(["git", "-C", str(root), "archive", args.compare_with,
                                      "src"], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            for _ in range(args.rounds):
                here_runs.append(_in_child(root / "src", args.events))
                there_runs.append(_in_child(Path(tmp) / "src", args.events))
        here = {k: min(r[k] for r in here_runs) for k in here_runs[0]}
        there = {k: min(r[k] for r in there_runs) for k in there_runs[0]}
        print(f"{args.events} Office-like events, {int(here['values'])} values each; best of "
              f"{args.rounds} alternating rounds")
        print(f"{'us/event':<40}{'this tree':>12}{args.compare_with[:12]:>14}")
        for key, label in (("walk", "walk values only (baseline)"),
                           ("detect", "all detectors"), ("both", "all detectors + 5 canaries")):
            print(f"{label:<40}{here[key]:>12.1f}{there[key]:>14.1f}")
        cost_here = here["detect"] - here["walk"]
        cost_there = there["detect"] - there["walk"]
        print(f"detector cost over the walk: {cost_here:.1f} us/event here, {cost_there:.1f} "
              f"at {args.compare_with}: {cost_here / cost_there:.2f}x")
        return
    result = measure(args.events)
    print(f"{args.events} Office-like events, {int(result['values'])} values each")
    print(f"{'step':<40}{'us/event':>10}{'events/s':>12}")
    for key, label in (("walk", "walk values only (baseline)"), ("detect", "all detectors"),
                       ("both", "all detectors + 5 canaries")):
        print(f"{label:<40}{result[key]:>10.1f}{1e6 / result[key]:>12.0f}")
    print(f"detector cost over the walk: {result['detect'] - result['walk']:.1f} us/event")


if __name__ == "__main__":
    main()
