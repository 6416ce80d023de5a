"""``fu2bl``: unsupervised follow-up-to-baseline GAN; infarct and hemorrhage from the difference
map (van Voorst et al., AJNR 2022).

See ``docs/methods/fu2bl.md`` for the settings and every deviation from the paper.
"""

from strokect.methods.fu2bl.config import Fu2blCalibration, Fu2blConfig
from strokect.methods.fu2bl.method import Fu2blMethod
from strokect.methods.fu2bl.network import ResnetGenerator

__all__ = ["Fu2blCalibration", "Fu2blConfig", "Fu2blMethod", "ResnetGenerator"]
