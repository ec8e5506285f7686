"""CRM profiles: one per signup for most people, a terse second one for some; consent on file."""

from __future__ import annotations

import numpy as np

from patron.samples.synthetic.identity import held_mask
from patron.samples.synthetic.model import Ids, People, Rows, Span
from patron.samples.synthetic.params import (
    CID,
    EMAIL,
    LOYALTY,
    PHONE,
    RECORD_EMAIL_SHARE,
    RECORD_LOYALTY_SHARE,
    RECORD_PHONE_SHARE,
    RECORD_SHARE,
    SECOND_RECORD_SHARE,
    STORE,
    WEB,
)


def draw_profiles(rng: np.random.Generator, people: People, ids: Ids, span: Span) -> Rows:
    """CRM profiles: most people one from their signup channel, some a second phone-only one.

    The profile shows the signup channel's identifier and, unless the person is split, often
    the email and phone too, which is what links channels in real CRMs.
    """
    n, ch = people.lam.size, people.channel
    own = np.array([CID, PHONE, LOYALTY, EMAIL])[ch] | np.where(ch == WEB, EMAIL, 0)
    u = rng.random((3, n))
    email = ~people.split & (u[0] < RECORD_EMAIL_SHARE[ch])
    phone = ~people.split & (u[1] < RECORD_PHONE_SHARE)
    loyalty = ~people.split & (u[2] < RECORD_LOYALTY_SHARE) & (ch == WEB)
    mask = own | np.where(email, EMAIL, 0) | np.where(phone, PHONE, 0)
    mask |= np.where(loyalty, LOYALTY, 0)
    mask &= held_mask(ids)
    primary = np.flatnonzero(rng.random(n) < RECORD_SHARE[ch])
    eligible = (ids.phone[primary] > 0) & (ch[primary] != STORE)
    second = primary[eligible & (rng.random(primary.size) < SECOND_RECORD_SHARE)]
    later = rng.random(second.size) * (span.last - people.acquired[second])
    person = np.concatenate([primary, second])
    time = np.concatenate([people.acquired[primary], people.acquired[second] + later.astype(int)])
    masks = np.concatenate([mask[primary], np.full(second.size, PHONE)])
    channel = np.concatenate([ch[primary], np.full(second.size, STORE)])
    order = np.lexsort((person, time))
    is_second = np.arange(person.size) >= primary.size
    extra = {"channel": channel[order], "second": is_second[order]}
    return Rows(person[order], time[order], masks[order], extra)


def consent_on_file(people: People, records: Rows) -> None:
    """Keep a consent only where a CRM profile holds the identifier it is for.

    Campaigns go to the addresses and numbers on file with consent, as a real ESP or SMS tool
    would, so email and SMS events only ever carry identifiers that some profile also shows.
    """
    shown = np.zeros(people.lam.size, dtype=np.int64)
    np.bitwise_or.at(shown, records.person, records.mask)
    people.email_consent &= shown & EMAIL > 0
    people.sms_consent &= shown & PHONE > 0
    people.push_consent &= shown & LOYALTY > 0
