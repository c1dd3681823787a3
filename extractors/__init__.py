"""Pure text → facts extraction (dates, amounts, eligibility rules) with evidence.

No Scrapy or database imports here: `extract(text, ...)` takes the main text of
a page and returns a Document of typed facts, so it can be re-run over stored
history. Bump EXTRACTOR_VERSION whenever the output for some input changes.
"""
from extractors.document import EXTRACTOR_VERSION, extract
from extractors.model import FACT_KINDS, Document, Fact

__all__ = ["EXTRACTOR_VERSION", "FACT_KINDS", "Document", "Fact", "extract"]
