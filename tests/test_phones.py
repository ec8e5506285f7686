"""The engine's phone check agrees with libphonenumber (the ``phonenumbers`` package)."""

from __future__ import annotations

import random

import duckdb
import phonenumbers
import pytest

from patron.identity.phones import normalize_phone, phone_candidate_sql, region_e164_sql

REGIONS = ["US", "DE", "GB", "IR", "FR", "IN", "BR"]


def _candidates(region: str, n: int, seed: int) -> list[str]:
    """Numbers near the region's example numbers, written nationally, with the national prefix
    or with the country code; about half are valid."""
    rng = random.Random(seed)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    kinds = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
    out = []
    for _ in range(n):
        example = phonenumbers.example_number_for_type(region, rng.choice(kinds))
        nsn = "".join(
            c if rng.random() > 0.3 else str(rng.randint(0, 9))
            for c in str(example.national_number)
        )
        if rng.random() < 0.2:
            nsn = nsn[:-1]
        prefix = rng.choice(["", metadata.national_prefix or "", f"+{metadata.country_code}"])
        out.append(prefix + nsn)
    return out


@pytest.mark.parametrize("region", REGIONS)
def test_engine_never_disagrees_with_phonenumbers(region: str) -> None:
    candidates = _candidates(region, 1500, seed=len(region) * 7 + ord(region[0]))
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT unnest(?) AS c", [candidates])
    rows = con.execute(f"SELECT c, {region_e164_sql('c', region)} FROM c").fetchall()
    accepted = {c: e for c, e in rows if e is not None}
    assert len(accepted) > len(rows) / 3  # the fast path does most of the work
    for candidate, e164 in accepted.items():
        assert normalize_phone(candidate, region) == e164, candidate


def test_candidates_drop_formatting_and_keep_the_international_prefix() -> None:
    con = duckdb.connect()
    values = ["(212) 555-0143", " +1 212-555-0143 ", "0049 30 1234567", "۰۹۱۲ ۳۴۵ ۶۷۸۹", "--"]
    con.execute("CREATE TABLE p AS SELECT unnest(?) AS phone", [values])
    got = [r[0] for r in con.execute(f"SELECT {phone_candidate_sql('phone')} FROM p").fetchall()]
    assert got == ["2125550143", "+12125550143", "+49301234567", "09123456789", None]
