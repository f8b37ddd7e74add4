"""The bracket: the largest lower bound, the least upper bound, their guarantees, the gap in orders of magnitude."""

import json
import math

import pytest

from explorer.count.bracket import CERTAIN, EXACT, PROVEN_UPPER, Bound, Bracket, best_bracket


def b(value, guarantee, source="s"):
    return Bound(value=value, source=source, guarantee=guarantee)


def test_largest_lower_and_least_upper_win_with_their_guarantees():
    prob = "probabilistic, confidence 0.95"
    out = best_bracket([b(40, CERTAIN), b(90, prob), b(7, CERTAIN)], [b(10 ** 6, PROVEN_UPPER), b(500, PROVEN_UPPER)])
    assert (out.lower.value, out.lower.guarantee) == (90, prob) and out.upper.value == 500
    assert out.orders_of_magnitude == pytest.approx(math.log10(500 / 90)) and not out.is_exact
    tie = best_bracket([b(90, prob), b(90, CERTAIN)], [b(500, PROVEN_UPPER)])
    assert tie.lower.guarantee == CERTAIN                      # equal values: the stronger guarantee is named


def test_exact_bracket_and_missing_upper():
    exact = b(12, EXACT)
    assert Bracket(lower=exact, upper=exact).is_exact and Bracket(lower=exact, upper=exact).orders_of_magnitude == 0
    alone = best_bracket([b(3, CERTAIN)], [Bound(value=None, source="zaslavsky", guarantee=PROVEN_UPPER)])
    assert alone.upper is None and alone.orders_of_magnitude is None and "∞" in alone.text()


def test_huge_integers_stay_exact_in_json_and_the_gap_is_finite():
    huge = 2 ** 4000 + 1
    out = best_bracket([b(5, CERTAIN)], [b(huge, PROVEN_UPPER)])
    payload = json.loads(json.dumps(out.to_json()))
    assert payload["upper"]["value"] == huge
    assert out.orders_of_magnitude == pytest.approx(4000 * math.log10(2) - math.log10(5), rel=1e-12)
    with pytest.raises(TypeError):
        Bound(5, "s", CERTAIN)                                  # built by keyword only
