"""Human review on the 0-3 scale: the answers.csv sheet (`table`), the blind review page (`items`, `store`,
`server`), and what the scores say (`agreement`, `summary`); `commands` holds the light entry points.

The scale is re-exported here because the judge scores on the same rubric (`litft.evaluation.judge`).
"""

from litft.evaluation.review.table import SCALE, SCALE_MEANING

__all__ = ["SCALE", "SCALE_MEANING"]
