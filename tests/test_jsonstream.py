import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from diagscope.decode.jsonstream import decode_json_stream
from diagscope.model import FieldMark


def line(**kw) -> bytes:
    return json.dumps(kw).encode()


def test_events_split_on_newlines_and_normalised():
    body = b"\n".join(
        [
            line(ver="4.0", name="Office.A", time="2026-11-02T09:00:01.123Z", iKey="o:t1",
                 ext={"app": {"ver": "16.0"}}, data={"EventInfo.Level": 110, "X": 1}),
            line(ver="3.0", name="Office.B", time="2026-11-02T10:00:00+01:00",
                 data={"baseType": "T", "baseData": {"p": 1}, "c": 2}),
        ]
    )
    result = decode_json_stream(body)
    assert result.error is None
    a, b = result.events
    assert (a.index, a.name, a.ver, a.ikey) == (0, "Office.A", "4.0", "o:t1")
    assert a.time == datetime(2026, 11, 2, 9, 0, 1, 123000, tzinfo=UTC)
    assert a.ext == {"app": {"ver": "16.0"}}
    assert a.data == {"EventInfo.Level": 110, "X": 1}
    assert b.index == 1 and b.ver == "3.0"
    assert b.time == datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
    assert b.base_type == "T" and b.base_data == {"p": 1} and b.data == {"c": 2}
    assert b.to_cs()["data"] == {"baseType": "T", "baseData": {"p": 1}, "c": 2}


def test_blank_lines_and_crlf_are_tolerated():
    body = line(name="A") + b"\r\n\n" + line(name="B") + b"\n"
    assert [e.name for e in decode_json_stream(body).events] == ["A", "B"]


def test_a_bad_line_keeps_the_events_before_it_and_says_where():
    good = line(name="A")
    body = good + b"\n" + b'{"name": "B", "trunc' + b"\n" + line(name="C")
    result = decode_json_stream(body)
    assert [e.name for e in result.events] == ["A"]
    assert result.error_offset == len(good) + 1
    assert "not valid JSON" in (result.error or "")


def test_non_object_lines_are_errors():
    result = decode_json_stream(b"[1,2]")
    assert result.events == [] and result.error_offset == 0


def test_metadata_f_exposes_declared_pii_and_customer_content():
    body = line(
        name="Office.Mail",
        ext={"metadata": {"f": {
            "User.Email": {"t": (9 << 5) | 1},
            "Mail.Subject": {"t": (1 << 13) | 1},
            "Count": {"t": 6},
            "Nested": {"f": {"Ip": {"t": (3 << 5) | 1}}},
            "baseData": {"f": {"Sip": {"t": (8 << 5) | 1}}},
            "List": {"a": {"t": (10 << 5) | 1}},
        }}},
        data={"User.Email": "a@b.nl", "Mail.Subject": "hi", "Count": 1.5},
    )
    marks = decode_json_stream(body).events[0].marks
    assert marks == {
        "data.User.Email": FieldMark("SmtpAddress", False),
        "data.Mail.Subject": FieldMark(None, True),
        "data.Nested.Ip": FieldMark("IPV4Address", False),
        "baseData.Sip": FieldMark("SipAddress", False),
        "data.List": FieldMark("Identity", False),
    }


def test_odd_field_types_do_not_break_normalisation():
    body = line(name=5, time=1793610000000, iKey=3, ext=[1], data="x", flags=True, popSample="a")
    event = decode_json_stream(body).events[0]
    assert event.name == "" and event.ikey is None and event.ext == {} and event.data == {}
    assert event.time == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert event.flags is None and event.pop_sample is None


def test_deeply_nested_json_is_an_error_not_a_crash():
    body = b"{" + b'"a":{' * 100000 + b"}" * 100001
    result = decode_json_stream(body)
    assert result.error is not None


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_report(body):
    result = decode_json_stream(body)
    assert (result.error is None) == (result.error_offset is None)
    for i, event in enumerate(result.events):
        assert event.index == i


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children,
                                                                       max_size=3),
    max_leaves=10,
)


@given(st.lists(st.dictionaries(st.text(min_size=1), json_values, max_size=5), max_size=5))
def test_every_json_object_line_becomes_one_event(objects):
    body = b"\n".join(json.dumps(o).encode() for o in objects)
    result = decode_json_stream(body)
    assert result.error is None
    assert len(result.events) == len(objects)


def _same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 are not the same value
    here: an identifier must keep every digit)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)  # NaN


@given(json_values | st.dictionaries(st.text(), json_values, max_size=4),
       st.sampled_from([{}, {"ensure_ascii": False}]))
def test_a_line_reads_as_the_standard_library_reads_it(value, options):
    from diagscope.decode.jsonstream import _loads

    data = json.dumps(value, **options).encode()
    assert _same(_loads(data), json.loads(data))


def test_what_the_fast_reader_would_change_or_refuse_reads_as_before() -> None:
    from diagscope.decode.jsonstream import _loads

    for data in [b'{"id": 123456789012345678901234567890}', b'{"id": -9223372036854775809}',
                 b'{"n": 18446744073709551616}', b'{"x": NaN, "y": -Infinity}',
                 b'{"s": "\\ud800 lone"}', b'{"big": 1e400}',
                 '{"utf16": "\u00e9"}'.encode("utf-16"), b'{"a": 1, "a": 2}']:
        assert _same(_loads(data), json.loads(data)), data
    for data in [b"\xef\xbb\xbf{}", b"{,}", b"[" * 5000 + b"]" * 5000]:
        try:
            expected: object = json.loads(data)
        except (ValueError, RecursionError) as exc:
            expected = type(exc)
        try:
            got: object = _loads(data)
        except (ValueError, RecursionError) as exc:
            got = type(exc)
        assert got == expected or _same(got, expected), data
