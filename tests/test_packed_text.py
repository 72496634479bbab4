"""Packed text: repeated evidence stored small, read back exactly, old rows still readable."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from diagscope.store.engine import open_engine
from diagscope.store.packing import DICTIONARIES, pack, unpack

#: A dictionary may never change once shipped: packed values in every database depend on
#: its exact bytes. A new dictionary gets a new number.
SHIPPED = {
    "clause-1": "767523f65cb3eaa5e47bb39828323d14b91c9fb4a2a830caf934dfaa8102b3ec",
    "cs-1": "45847b97ff8c5e46930dbd064a373859e9b6bac68f83315ec6cec93e318e0492",
    "detail-1": "4892560e9d59a252c1d9afe8e5be0119984cc8d26820ce27c1ba8535a638257a",
    "headers-1": "205ce124130585ba7e1ea3975cd975d6802050bd730a74cddf63035823c9be52",
    "reason-1": "a9b51591ab98d285e8796eb98b58d5b8b8e0a3dad07d38e9ef255a019fa32d93",
}


def test_shipped_dictionaries_never_change():
    folder = resources.files("diagscope.store") / "dictionaries"
    for name, digest in SHIPPED.items():
        assert hashlib.sha256((folder / f"{name}.txt").read_bytes()).hexdigest() == digest
    assert set(DICTIONARIES.values()) == set(SHIPPED)


@given(st.text(), st.sampled_from(["cs", "reason", "detail", "clause", "headers"]))
def test_any_text_comes_back_exactly(value, dictionary):
    assert unpack(pack(value, dictionary)) == value


def test_repeated_evidence_packs_small():
    from diagscope.policy.load import load_policy

    clause = load_policy().policy.products["office"].clause
    assert len(pack(clause, "clause")) < 16 < len(clause)
    event = json.dumps({"ver": "4.0", "name": "Office.Word.FileOpen",
                        "ext": {"app": {"name": "Word"}, "os": {"name": "Windows"}},
                        "data": {"EventInfo.Level": 1}}, separators=(",", ":"))
    assert len(pack(event, "cs")) < len(event) / 2


def test_values_stored_before_packing_read_as_they_are():
    assert unpack("plain text from an older run") == "plain text from an older run"
    assert unpack(b'{"name":"x"}') == '{"name":"x"}'  # PostgreSQL: text turned bytea


@pytest.fixture
def stored(tmp_path, capture):
    from click.testing import CliRunner
    from conftest import telemetry_flow

    from diagscope.cli import main
    from diagscope.sources.synthetic import json_stream

    db = str(tmp_path / "packed.sqlite")
    events = [{"ver": "4.0", "name": "Office.Word.FileOpen",
               "data": {"EventInfo.Level": 2, "User.Email": "jan.jansen@minjenv.nl"}}]
    path = capture([telemetry_flow("p", json_stream(events),
                                   headers=[("Content-Type", "application/x-json-stream")])])
    assert CliRunner().invoke(main, ["replay", path, "--db", db]).exit_code == 0
    return db


def test_packed_columns_are_packed_on_disk_and_read_as_text(stored):
    engine = open_engine(stored)
    with engine.connect() as conn:
        raw_cs, raw_clause = conn.execute(text(
            "SELECT e.cs, f.clause FROM events e JOIN findings f ON f.run_id = e.run_id "
            "LIMIT 1")).one()
    assert isinstance(raw_cs, bytes) and raw_cs[0] in DICTIONARIES
    assert isinstance(raw_clause, bytes) and len(raw_clause) < 40
    from diagscope.store.queries import event_documents, iter_findings

    (finding, *_) = list(iter_findings(engine, 1))
    assert finding["clause"].startswith(("Improvement plan", "Verwerkersovereenkomst",
                                         "Framework", "WP216"))
    (doc,) = event_documents(engine, 1, finding["flow_id"])
    assert doc["cs"]["name"] == "Office.Word.FileOpen"


def test_headers_digests_and_bodies_are_stored_small_and_read_back_exactly(stored):
    from diagscope.store.queries import iter_request_rows

    engine = open_engine(stored)
    with engine.connect() as conn:
        headers, body, body_size, chain_hash, body_sha256 = conn.execute(text(
            "SELECT headers, body, body_size, chain_hash, body_sha256 FROM requests")).one()
    assert isinstance(headers, bytes) and headers[0] in DICTIONARIES
    assert len(chain_hash) == len(body_sha256) == 32
    assert len(body) < body_size  # an uncompressed JSON stream is stored DEFLATEd
    (row,) = list(iter_request_rows(engine, 1))
    assert len(row["body"]) == body_size
    assert hashlib.sha256(row["body"]).hexdigest() == row["body_sha256"] == body_sha256.hex()
    assert row["chain_hash"] == chain_hash.hex()
    assert ["Content-Type", "application/x-json-stream"] in [list(h) for h in row["headers"]]


@given(st.binary(max_size=4096), st.sampled_from([None, "", "gzip", "identity"]))
def test_any_body_comes_back_exactly(raw, encoding):
    from diagscope.store.bodies import pack_body, restore_body

    stored = pack_body(raw, encoding)
    assert len(stored) <= len(raw)
    assert restore_body(stored, len(raw)) == raw


def test_a_packed_body_that_was_edited_comes_back_as_stored():
    from diagscope.store.bodies import pack_body, restore_body

    raw = b'{"name":"Office.Word.FileOpen"}\n' * 20
    stored = pack_body(raw, None)
    assert len(stored) < len(raw)
    edited = stored[:-3] + b"\x00\x00\x00"
    assert restore_body(edited, len(raw)) in (edited, raw)  # either a failed or a lucky edit
    assert restore_body(stored[:5], len(raw)) == stored[:5]


def test_digests_stored_as_text_before_read_as_they_were():
    from diagscope.store.types import Digest

    digest = Digest()
    hex_text = hashlib.sha256(b"x").hexdigest()
    assert digest.process_bind_param(hex_text, None) == bytes.fromhex(hex_text)
    assert digest.process_result_value(bytes.fromhex(hex_text), None) == hex_text
    assert digest.process_result_value(hex_text, None) == hex_text
    edited = digest.process_bind_param("not a digest", None)
    assert digest.process_result_value(edited, None) == "not a digest"


def test_verify_reports_an_edited_packed_body(stored):
    from diagscope.store.verify import verify_run

    engine = open_engine(stored)
    assert verify_run(engine, 1).ok
    with engine.begin() as conn:
        body, size = conn.execute(text("SELECT body, body_size FROM requests")).one()
        assert len(body) < size  # packed
        edited = body[:-4] + bytes(b ^ 0xFF for b in body[-4:])
        conn.execute(text("UPDATE requests SET body = :b"), {"b": edited})
    report = verify_run(engine, 1)
    assert not report.ok
    assert "raw body no longer matches body_sha256" in (report.problem or "")


def test_short_values_are_read_back_once_and_event_json_never_kept():
    from diagscope.store import packing

    packing._UNPACKED.clear()
    clause = pack("Artikel 3.1: alleen de drie doeleinden.", "clause")
    first = unpack(clause)
    assert first == "Artikel 3.1: alleen de drie doeleinden." and unpack(clause) is first
    event = pack('{"name": "Office.Word.FileOpen"}', "cs")
    assert unpack(event) == '{"name": "Office.Word.FileOpen"}'
    assert event not in packing._UNPACKED
    for i in range(packing._PACKED_LIMIT + 10):
        assert unpack(pack(f"detail {i}", "detail")) == f"detail {i}"
    assert 0 < len(packing._UNPACKED) <= packing._PACKED_LIMIT
    # Other bytes (an edited value) are read as themselves, never as a remembered text.
    edited = pack("Artikel 3.2: iets anders.", "clause")
    assert unpack(edited) == "Artikel 3.2: iets anders."
