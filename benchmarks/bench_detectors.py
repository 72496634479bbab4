"""What personal-data detection costs per event, beside just walking the values.

    python benchmarks/bench_detectors.py --events 5000
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

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


def timed(fn, events) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for event in events:
        fn(event)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(5)
    events = [office_event(rng, i) for i in range(args.events)]
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
    values = sum(1 for _ in walk_values(events[0]))
    n = args.events
    print(f"{n} Office-like events, {values} values each")
    print(f"{'step':<40}{'us/event':>10}{'events/s':>12}")
    for label, secs in (("walk values only (baseline)", walk), ("all detectors", detect),
                        ("all detectors + 5 canaries", both)):
        print(f"{label:<40}{secs / n * 1e6:>10.1f}{n / secs:>12.0f}")
    print(f"detector cost over the walk: {(detect - walk) / n * 1e6:.1f} us/event")


if __name__ == "__main__":
    main()
