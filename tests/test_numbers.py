"""Phone numbers as senders and recipient lists write them: the quick reading of an Indian
mobile number must agree with phonenumbers', which it stands in for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from seva.numbers import mobile_msisdns, msisdn, normalise_phone

mobiles = st.from_regex(r"[6-9][0-9]{9}", fullmatch=True)
forms = st.sampled_from(["+91{}", "91{}", "0{}", "{}", "+91 {}", "+91-{}", " {} "])


@settings(max_examples=300, deadline=None)
@given(mobiles, forms)
def test_an_indian_mobile_reads_as_phonenumbers_reads_it(number: str, form: str) -> None:
    written = form.format(number)
    msisdn.cache_clear()
    assert msisdn(written) == "+91" + number
    assert normalise_phone(written.strip().replace(" ", "").replace("-", "")) == "+91" + number
    assert mobile_msisdns([written]) == ["+91" + number]


def test_numbers_outside_the_quick_reading_still_go_through_phonenumbers() -> None:
    assert msisdn("+91 11 2338 6699") == "+911123386699"  # a Delhi landline: valid, not mobile
    assert msisdn("+14155552671") == "+14155552671"
    assert msisdn("+९१९८११०००३२१") == "+919811000321"  # Devanagari digits
    assert msisdn("5000000000") is None  # no such Indian number
    assert msisdn("12345") is None
    assert msisdn("") is None
    assert msisdn("9" * 30) is None
    # In another region a bare ten-digit number is that region's, not India's.
    assert msisdn("9812345678", "US") is None
    assert msisdn("2015550123", "US") == "+12015550123"
