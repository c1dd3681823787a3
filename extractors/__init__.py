"""Pure text → facts extraction (dates, amounts, eligibility rules) with evidence.

No Scrapy or database imports here: `extract(text, ...)` takes the main text of
a page and returns a Document of typed facts, so it can be re-run over stored
history. Bump EXTRACTOR_VERSION whenever the output for some input changes.
"""
from extractors.model import FACT_KINDS, Document, Fact
from extractors.version import EXTRACTOR_VERSION


def __getattr__(name: str):
    # `extract` loads the rules on first use, so commands that only read EXTRACTOR_VERSION or FACT_KINDS
    # (status, history, changes, …) start without them.
    if name == "extract":
        from extractors.document import extract
        return extract
    raise AttributeError(f"module 'extractors' has no attribute {name!r}")

__all__ = ["EXTRACTOR_VERSION", "FACT_KINDS", "Document", "Fact", "extract"]
