"""Precision and recall of every detector on the labelled corpus."""

from __future__ import annotations

from collections import Counter

from pii_corpus import corpus

from diagscope.pii.scan import DETECTORS

KINDS = [d.kind for d in DETECTORS]


def _found(key: str, value: str) -> set[str]:
    field = f"data.{key}"
    return {hit.kind for d in DETECTORS for hit in d.scan(field, key, value)}


def test_precision_and_recall_per_kind(capsys):
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    mistakes = []
    samples = corpus()
    for sample in samples:
        found = _found(sample.key, sample.value)
        for kind in KINDS:
            expected, got = kind in sample.kinds, kind in found
            if expected and got:
                tp[kind] += 1
            elif got:
                fp[kind] += 1
                mistakes.append(f"false {kind}: {sample.key}={sample.value!r}")
            elif expected:
                fn[kind] += 1
                mistakes.append(f"missed {kind}: {sample.key}={sample.value!r}")
    lines = [f"{'kind':<18}{'planted':>8}{'found':>7}{'false':>7}{'precision':>11}{'recall':>8}"]
    for kind in KINDS:
        planted = tp[kind] + fn[kind]
        precision = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        recall = tp[kind] / planted if planted else 1.0
        lines.append(f"{kind:<18}{planted:>8}{tp[kind]:>7}{fp[kind]:>7}{precision:>11.3f}"
                     f"{recall:>8.3f}")
    with capsys.disabled():
        print(f"\n{len(samples)} samples\n" + "\n".join(lines))
    assert not mistakes, "\n".join(mistakes[:30])
    assert all(tp[k] > 0 for k in KINDS)
