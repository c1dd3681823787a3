"""Downloads of what a 地区 page shows: its fact timelines as CSV, JSON Lines or Parquet, written by the same
writers as `policywatch export` (so a download equals `export --region …`)."""
from __future__ import annotations

import os
import tempfile

from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from monitor.export import export_rows, write_csv, write_jsonl, write_parquet
from storage import HistoryFilter, HistoryStore

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8",
               "parquet": "application/vnd.apache.parquet"}


def facts_download(store: HistoryStore, f: HistoryFilter, fmt: str, filename: str) -> FileResponse:
    """The fact timelines matching `f` as one file of `fmt` (csv with a BOM, as `export` writes it; jsonl;
    parquet), streamed from a temporary file that is removed once sent; ConfigError without pyarrow."""
    fd, path = tempfile.mkstemp(prefix="policywatch-", suffix=f".{fmt}")
    os.close(fd)
    try:
        batches = export_rows(store, "facts", f)
        if fmt == "csv":
            write_csv(path, "facts", batches, bom=True)
        elif fmt == "jsonl":
            write_jsonl(path, "facts", batches)
        else:
            write_parquet(path, "facts", batches)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=filename,
                        background=BackgroundTask(os.unlink, path))


