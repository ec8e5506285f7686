"""The MBG/NBD model of Batislam, Denizel & Filiztekin (2007), "Empirical validation and
comparison of models for customer base analysis".

BG/NBD with one change: the dropout coin (probability p ~ Beta(a, b)) is also tossed right after
the first purchase, so a customer seen only once may already be gone; BG/NBD treats every such
customer as alive. With x repeat purchases there are x + 1 dropout opportunities, and the
likelihood is

    L = Gamma(r + x) alpha^r / Gamma(r)
        * [ B(a, b + x + 1) / B(a, b) (alpha + T)^-(r + x)
            + B(a + 1, b + x) / B(a, b) (alpha + t_x)^-(r + x) ]

(the second term now also for x = 0). Predictions follow from BG/NBD's with x + 1 in the beta
terms; on the CDNOW sample BTYDplus reports r = 0.525, alpha = 6.183, a = 0.891, b = 1.614.
"""

from __future__ import annotations

from typing import ClassVar

from patron.models.bgnbd import BetaGeoModel


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: ``r``, ``alpha`` (purchase rate) and ``a``, ``b`` (dropout, first purchase too)."""

    first_purchase_dropout: ClassVar[int] = 1
