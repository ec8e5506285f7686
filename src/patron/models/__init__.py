"""Customer-base models: numpy/scipy only, arrays in, parameters and predictions out."""

from patron.errors import ConvergenceError, NotFittedError
from patron.models.base import Model
from patron.models.bgbb import BetaGeoBetaBinomModel
from patron.models.bgnbd import BetaGeoModel
from patron.models.gamma_gamma import GammaGammaModel, spend_frequency_correlation
from patron.models.mbgnbd import ModifiedBetaGeoModel
from patron.models.pareto_nbd import ParetoNBDModel
from patron.models.sbg import ShiftedBetaGeoModel, from_survivors

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "Model",
    "ModifiedBetaGeoModel",
    "NotFittedError",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
    "from_survivors",
    "spend_frequency_correlation",
]
