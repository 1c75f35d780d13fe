"""The held-out-site study (leave one LGG site out): its rules and rows (`rules`), and its record
read for the notebooks and documents (`record`), and the steps that train and score (`steps`:
`python -m braintumor study site STEP`, `make site-study`)."""

from .record import (  # noqa: F401
    RECORD_FILE, default_model_entry, model_entry, read_record, table_rows,
)
from .rules import (  # noqa: F401
    ALWAYS_TRAINS, BASE_ARCHITECTURE, DEFAULT_RULE, HELD_OUT_SITES, HELD_OUT_SPLITS,
    MAX_MAIN_ACCURACY_LOSS, MODEL_NAME, NO_VARIANT_QUALIFIED, PICK_RULE, RECIPE, TIE,
    TRAINING_SOURCES, VARIANTS, held_out_rows, pick_variant, site_model_is_default, site_of,
    variant_architecture, variant_summary, without_site,
)
