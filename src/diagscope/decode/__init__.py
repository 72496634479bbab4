"""Turn captured request bodies into Common Schema events.

The versions below are recorded in evidence bundles: a change to what a decoder produces
for the same bytes bumps its version, so an auditor can tell why results differ.
"""

DECODER_VERSIONS = {
    "inflate": "1",
    "json-stream": "1",
    "bond-compact-binary": "1",
}
