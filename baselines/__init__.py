"""The baseline zoo: one file per model, each registered with ``@register_model``.

Importing this package registers every baseline; the harness does so through
:func:`recbench.registry.load_plugins`.
"""

from baselines import autoint, caser, dcnv2, deepfm, din, gru4rec, sasrec  # noqa: F401
from baselines import sim  # noqa: F401
from baselines import ctrbert, rella, tallrec  # noqa: F401
from baselines import reference  # noqa: F401
