"""The model layer: the one place that knows the schema.

Every read and write of the model's tables goes through here — current and as-of reads of
features, the layer catalogue, committing a version, meshes and derived side tables — written
once, translated per backend by the store. Nothing outside ``cim.model`` (and the store and
migrations under it) writes ``valid_to``, ``FROM features`` or a JSON-property cast.
"""

from cim.model.vocabulary import (
    CIM_LEVELS,
    CLASSIFICATIONS,
    DEFAULT_CRS,
    LAYER_KINDS,
    PHASES,
    check_classification,
    check_layer_name,
    check_phase,
)

__all__ = ["CIM_LEVELS", "CLASSIFICATIONS", "DEFAULT_CRS", "LAYER_KINDS", "PHASES", "check_classification",
           "check_layer_name", "check_phase"]
