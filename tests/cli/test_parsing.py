"""The parser's number readers: any float spelling (negative and exponent forms), ranges by name, whole numbers
refused rather than truncated."""

import argparse
import math

import pytest

from explorer.cli.parsing import count, number

NUMBERS = [("1e3", 1000.0), ("-1e-3", -0.001), ("-.5", -0.5), ("1_000", 1000.0), ("\u22122", -2.0),
           ("+4E+0", 4.0), (" 7 ", 7.0), ("-0", 0.0)]


@pytest.mark.parametrize("text, value", NUMBERS)
def test_numbers_in_any_float_spelling(text, value):
    assert number()(text) == value


@pytest.mark.parametrize("text", ["nan", "-inf", "1e999", "x", "", "0x10", "1,5"])
def test_non_numbers_and_non_finite_numbers_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        number()(text)


@pytest.mark.parametrize("text, value", [("1e3", 1000), ("5", 5), ("1_000", 1000), ("2.0", 2)])
def test_whole_numbers(text, value):
    assert count(lo=1, hi=1000)(text) == value


@pytest.mark.parametrize("text", ["5000", "1e9", "0", "-1", "2.5", "1e400", "18446744073709551617", "nan"])
def test_whole_numbers_outside_the_range_are_refused_not_truncated(text):
    with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 1,000"):
        count(lo=1, hi=1000)(text)


def test_open_and_closed_ranges():
    read = number(lo=0, lo_open=True, hi=1, hi_open=True, what="a confidence")
    assert read("0.5") == 0.5 and math.isclose(read("1e-300"), 1e-300)
    for bad in ("0", "1", "-1e-9"):
        with pytest.raises(argparse.ArgumentTypeError, match="a confidence"):
            read(bad)
    assert number(lo=0)("0") == 0.0
