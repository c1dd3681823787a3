"""The extractor's version, importable without loading the extraction engine."""

# Bump whenever the output for some input changes: `policywatch reextract` then recomputes stored snapshots.
EXTRACTOR_VERSION = "4"
