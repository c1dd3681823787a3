"""`policywatch reextract --recut`: cut the stored raw pages again under the current site profiles.

Each snapshot keeps its raw response (raw_pages, zlib). Re-cutting it the way the crawl would cut it now
(the source's forced `profile` and `encoding`, the bundled profiles plus the sources file's user profiles)
gives its main text, title, publish time and cut metadata as of today's profiles; where they differ from
what is stored, the snapshot is rewritten (content_hash follows the new text; the old profile and hash are
kept in page_meta["recut"]). The reextract machinery then recomputes the facts and the changes — never
alerting — so fixing a profile repairs the history instead of sending a burst of false changes.

Snapshots are never merged or deleted: two consecutive versions that only differed in a sidebar may now
have the same text (and hash). The diff finds nothing between them, and their raw pages stay linked, so a
later profile can tell them apart again.
"""
from __future__ import annotations

from dataclasses import dataclass

from spiders.processing import CutPage, cut_page

# page_meta keys the cut writes (spiders.content.extract_main); the others (e.g. "import") are kept as they are.
CUT_META = ("breadcrumb", "lead", "source")


@dataclass(frozen=True)
class RecutJob:
    """One stored snapshot to cut again: its raw bytes and how the crawl would cut it now."""

    snapshot_id: int
    raw: bytes
    url: str
    encoding: str | None
    profile: str | None
    profiles_path: str | None


def cut_again(job: RecutJob) -> tuple[int, CutPage]:
    """Decode and cut one stored raw page (runs in a worker process or inline)."""
    return job.snapshot_id, cut_page(job.raw, None, job.url, job.encoding, job.profile, job.profiles_path)


def job_for(snapshot: dict, page: dict, raw: bytes, profiles_path: str | None) -> RecutJob:
    """The recut of a timeline snapshot: the source's forced encoding wins, else the one the crawl used
    (the response's Content-Type header is not stored; the encoding it led to is)."""
    return RecutJob(snapshot["id"], raw, snapshot["url"], page.get("encoding") or snapshot.get("encoding"),
                    page.get("profile"), profiles_path)


def recut_fields(snapshot: dict, cut: CutPage, run_id: int | None) -> dict | None:
    """The snapshot columns to rewrite after a recut, or None when the cut says what is stored already."""
    old_meta = snapshot.get("page_meta") or {}
    new_cut_meta = {k: v for k, v in (cut.meta or {}).items() if k in CUT_META}
    old_cut_meta = {k: v for k, v in old_meta.items() if k in CUT_META}
    same = (cut.main_text == snapshot["main_text"] and cut.title == snapshot["title"]
            and cut.published_at == snapshot["published_at"] and cut.profile == snapshot.get("profile")
            and cut.encoding == snapshot.get("encoding") and new_cut_meta == old_cut_meta)
    if same:
        return None
    meta = {k: v for k, v in old_meta.items() if k not in CUT_META and k != "recut"}
    meta.update(new_cut_meta)
    # What the first cut said, kept across later recuts (the crawl's own profile and text hash).
    first = old_meta.get("recut") or {"profile_was": snapshot.get("profile"), "hash_was": snapshot["content_hash"]}
    meta["recut"] = dict(first, run_id=run_id)
    return dict(main_text=cut.main_text, content_hash=cut.content_hash, title=cut.title,
                published_at=cut.published_at, profile=cut.profile, encoding=cut.encoding, page_meta=meta)


def apply_fields(snapshot: dict, fields: dict) -> None:
    """Make a timeline snapshot say what its recut says (for the facts and the diff that follow)."""
    snapshot.update(fields)
    snapshot["breadcrumb"] = (fields["page_meta"] or {}).get("breadcrumb")
