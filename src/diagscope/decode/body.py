"""Request body -> events: bounded inflate, content type, then the matching decoder."""

from __future__ import annotations

from diagscope.decode.detect import (
    BOND_COMPACT,
    JSON_STREAM,
    declared_content_type,
    effective_content_type,
)
from diagscope.decode.inflate import DEFAULT_MAX_BODY_BYTES, InflateError, inflate
from diagscope.decode.jsonstream import decode_json_stream
from diagscope.model import DecodedBody, DecodeStatus, Event, Request


def _outcome(events: list[Event], error: str | None) -> DecodeStatus:
    if error is None:
        return DecodeStatus.OK
    return DecodeStatus.PARTIAL if events else DecodeStatus.UNDECODABLE


def decode_bond_body(body: bytes) -> tuple[list[Event], str | None, int | None]:
    from diagscope.decode.csprotocol import decode_records

    result = decode_records(body)
    return result.events, result.error, result.error_offset


def decode_body(request: Request, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> DecodedBody:
    """Decode a telemetry request; never raises for bad input, it reports it instead."""
    declared = declared_content_type(request)
    header_encoding = request.header("content-encoding")
    if not request.body:
        return DecodedBody(DecodeStatus.EMPTY, declared, header_encoding)
    try:
        inflated = inflate(request.body, header_encoding, max_body_bytes)
    except InflateError as exc:
        return DecodedBody(DecodeStatus.UNDECODABLE, declared, header_encoding, error=str(exc))
    body = inflated.data
    content_type = effective_content_type(declared, body)
    if content_type == JSON_STREAM:
        result = decode_json_stream(body)
        events, error, offset = result.events, result.error, result.error_offset
    elif content_type == BOND_COMPACT:
        events, error, offset = decode_bond_body(body)
    else:
        events, error, offset = [], f"unrecognised content type {content_type!r}", 0
    return DecodedBody(
        _outcome(events, error),
        content_type,
        inflated.encoding,
        events=events,
        error=error,
        error_offset=offset,
        decoded_size=len(body),
    )
