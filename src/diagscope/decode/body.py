"""Request body -> events: bounded inflate, content type, then the decoder registered for it
(`decode.registry`)."""

from __future__ import annotations

from diagscope.decode.detect import declared_content_type, effective_content_type
from diagscope.decode.inflate import DEFAULT_MAX_BODY_BYTES, InflateError, inflate
from diagscope.decode.registry import decoder_for
from diagscope.model import DecodedBody, DecodeStatus, Event, Request


def _outcome(events: list[Event], error: str | None) -> DecodeStatus:
    if error is None:
        return DecodeStatus.OK
    return DecodeStatus.PARTIAL if events else DecodeStatus.UNDECODABLE


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
    # A content type some decoder claims is taken at its word; any other is only a hint.
    content_type = declared if decoder_for(declared) else effective_content_type(declared, body)
    decode = decoder_for(content_type)
    if decode is not None:
        result = decode(body)
        events, error, offset = result.events, result.error, result.error_offset
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
