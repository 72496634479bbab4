"""A policy in a few lines, as `diagscope policy check` and `show` print it."""

from __future__ import annotations

from diagscope.policy.load import LoadedPolicy


def summary_lines(loaded: LoadedPolicy) -> list[str]:
    p = loaded.policy
    lines = [f"{p.name} {p.version}  (sha256 {loaded.sha256})", f"  file: {loaded.path}",
             f"  source: {p.source}"]
    for product, pp in sorted(p.products.items()):
        extra = f", {len(pp.security_events)} security-level event patterns" \
            if pp.security_events else ""
        closed = " (closed set)" if pp.only_security_events else ""
        lines.append(f"  {product}: at most {pp.max_level.value}{closed}{extra}")
    permitted = sorted(k for k, v in p.purposes.items() if v.permitted)
    forbidden = sorted(k for k, v in p.purposes.items() if not v.permitted)
    lines.append(f"  permitted purposes: {', '.join(permitted) or '-'}")
    lines.append(f"  forbidden purposes: {', '.join(forbidden) or '-'}")
    patterns = sum(len(r.segments) for r in p.name_rules)
    lines.append(f"  name rules: {len(p.name_rules)} ({patterns} segment patterns); "
                 f"categories mapped: {len(p.categories)}; event overrides: {len(p.events)}")
    allowed = [h for h, e in p.destinations.endpoints.items() if e.allowed]
    lines.append(f"  endpoints: {len(p.destinations.endpoints)} listed by the policy, "
                 f"{len(allowed)} allowed, then Microsoft's published collectors; required "
                 f"region: {p.destinations.required_region or 'none'}")
    accepted = ", ".join(e.field for e in p.personal_data.envelope_identifiers) or "none"
    lines.append(f"  accepted envelope identifiers: {accepted}")
    lines.append(f"  phone numbers read as: {p.personal_data.phone_region}")
    lines.append("  plaintext HTTP: " + ("allowed" if p.transport.plaintext_http_allowed
                                         else "forbidden"))
    lines.append(f"  decompression bound: {p.limits.max_body_bytes} bytes")
    return lines
