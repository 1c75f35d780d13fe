"""The leave-one-source-out study over A, B and LGG: its rules and rows (`rules`), and its record
read for the notebooks and documents (`record`). The steps that train and score run from
python -m braintumor study loso (`make loso-study`)."""

from .record import (  # noqa: F401
    RECORD_FILE, SHORT, all_source_entry, default_model_entry, read_record, table_rows,
)
from .rules import (  # noqa: F401
    BASE_ARCHITECTURE, DEFAULT_RULE, FALLBACK_RULE, HELD_OUT_SPLITS, MAX_MAIN_ACCURACY_LOSS,
    MIN_OWN_VALIDATION_AUC, NO_VARIANT_QUALIFIED, PICK_RULE, RECIPE, SOURCES, TIE, TRAIN_CAP,
    VAL_CAP, VARIANTS, all_source_is_default, fallback_variant, pair_of, pick_variant,
    trained_variant, variant_architecture, variant_summary,
)
