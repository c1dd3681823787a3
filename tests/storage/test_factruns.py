"""run_starts: which snapshot each fact's run of the same value began in (pure; the views read the links)."""
from __future__ import annotations

from storage.factruns import run_starts

FEE_380 = ("personal_contribution", "140100", 2025, '{"amount": 380}')
FEE_400 = ("personal_contribution", "140100", 2025, '{"amount": 400}')
DEADLINE = ("payment_deadline", "140100", 2025, '{"date": "2025-03-31"}')


def test_a_value_kept_across_snapshots_points_at_its_first_snapshot():
    starts = run_starts([(10, [(1, FEE_380), (2, DEADLINE)]),
                         (11, [(3, FEE_380), (4, DEADLINE)]),
                         (12, [(5, FEE_400), (6, DEADLINE)])])
    assert starts == {1: 10, 2: 10, 3: 10, 4: 10, 5: 12, 6: 10}


def test_a_value_that_returns_after_a_gap_starts_a_new_run():
    starts = run_starts([(10, [(1, FEE_380)]), (11, [(2, FEE_400)]), (12, [(3, FEE_380)])])
    assert starts == {1: 10, 2: 11, 3: 12}


def test_a_snapshot_without_the_fact_breaks_its_run():
    starts = run_starts([(10, [(1, FEE_380)]), (11, []), (12, [(2, FEE_380)])])
    assert starts == {1: 10, 2: 12}


def test_a_fact_stated_twice_in_one_snapshot_shares_one_run():
    starts = run_starts([(10, [(1, FEE_380)]), (11, [(2, FEE_380), (3, FEE_380)])])
    assert starts == {1: 10, 2: 10, 3: 10}


def test_the_seed_continues_runs_begun_before_the_linked_snapshots():
    starts = run_starts([(20, [(7, FEE_380), (8, FEE_400)])], seed={FEE_380: 5, DEADLINE: 5})
    assert starts == {7: 5, 8: 20}


def test_the_same_value_in_another_region_or_plan_year_is_another_fact():
    other_city = ("personal_contribution", "140200", 2025, '{"amount": 380}')
    next_year = ("personal_contribution", "140100", 2026, '{"amount": 380}')
    starts = run_starts([(10, [(1, FEE_380)]), (11, [(2, other_city), (3, next_year)])])
    assert starts == {1: 10, 2: 11, 3: 11}
