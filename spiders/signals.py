"""policywatch's own crawl signals (progress reporting)."""

pages_planned = object()  # kwargs: count (more pages were scheduled)
page_stored = object()    # kwargs: url, outcome, error
