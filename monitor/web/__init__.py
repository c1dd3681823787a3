"""`policywatch serve`: the read-only web view (Starlette + Jinja2, served by uvicorn)."""
