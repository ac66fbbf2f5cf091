"""The YAML config as typed objects: load, validate, and report errors by key path.

Every section forbids unknown keys, so a misspelt key fails before any work starts:

    >>> load_config("bad.yaml")
    ConfigError: bad.yaml: window.look_bak: unknown key; did you mean 'look_back'?

The resolved config is stored verbatim in a run directory's bundle.json and
reloaded from there (`Config.model_validate(cfg.model_dump()) == cfg`).

This package is where the rest of lstmcli imports the config from; the work is done in:

    sections.py  the sections (data, window, model, training), the value types their
                 keys share, the limits on a config
    spec.py      Config: the sections together, the combinations that cannot work, the
                 weights estimate
    loading.py   load_config, config_from_dict: the YAML file read within bounds, errors
                 by key path
"""

from lstmcli.config.loading import config_from_dict, format_loc, load_config
from lstmcli.config.sections import (
    ACTIVATIONS,
    CELL_TYPES,
    MAX_CONFIG_BYTES,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_LAYERS,
    MAX_SEED,
    MAX_SEQ2SEQ_HORIZON,
    MAX_STEPS,
    MAX_UNITS,
    MAX_VALUES,
    MAX_WEIGHTS,
    Activation,
    CellType,
    DataSpec,
    DenseSpec,
    EarlyStoppingSpec,
    Freq,
    LayerSpec,
    ModelSpec,
    OptimizerSpec,
    TrainingSpec,
    WindowSpec,
)
from lstmcli.config.spec import Config

__all__ = [
    "ACTIVATIONS", "CELL_TYPES", "MAX_CONFIG_BYTES", "MAX_COUNT", "MAX_DEPTH", "MAX_LAYERS",
    "MAX_SEED", "MAX_SEQ2SEQ_HORIZON", "MAX_STEPS", "MAX_UNITS", "MAX_VALUES", "MAX_WEIGHTS",
    "Activation", "CellType", "Config", "DataSpec", "DenseSpec", "EarlyStoppingSpec", "Freq",
    "LayerSpec", "ModelSpec", "OptimizerSpec", "TrainingSpec", "WindowSpec", "config_from_dict",
    "format_loc", "load_config",
]
