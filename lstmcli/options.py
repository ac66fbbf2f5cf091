"""Data keys set on the command line (--target, --time-col, --id-col, --freq, --missing)
and other options that override a key of the config, each named in messages by its flag."""

from __future__ import annotations

from lstmcli.config import Config, DataSpec
from lstmcli.errors import UsageError

# Command-line options of train, backtest and window that set a key of the data section.
DATA_OPTIONS = {"targets": "--target", "time": "--time-col", "series": "--id-col",
                "freq": "--freq", "missing": "--missing"}


def with_options(config: Config, options: dict | None) -> Config:
    """The config with the data keys given as command-line options (None: not given)."""
    for key, value in (options or {}).items():
        if value is not None and value != getattr(config.data, key):
            config = overridden(config, "data", key, value, DATA_OPTIONS[key])
    return config


def options_spec(options: dict | None) -> DataSpec:
    """The data section the command-line options alone set (the rest as by default): how
    the data is read when no config is given."""
    from pydantic import ValidationError

    given = {k: v for k, v in (options or {}).items() if v is not None}
    try:
        return DataSpec.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = DATA_OPTIONS.get(str(error["loc"][0]), "options") if error["loc"] else "options"
        raise UsageError(f"{option}: {error['msg']}. Received: {error.get('input')!r}") from None


def overridden(config: Config, section: str, key: str, value, option: str) -> Config:
    """The config with one key set from a command-line option, validated again."""
    from lstmcli.config import config_from_dict

    doc = config.model_dump(mode="json")
    doc[section][key] = value
    return config_from_dict(doc, source=option)
