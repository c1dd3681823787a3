"""Pure text → facts extraction (dates, amounts, eligibility rules) with evidence.

No Scrapy or database imports here: extractors take text and return facts, so
they can be re-run over stored history. Filled in by the extractor issue.
"""
