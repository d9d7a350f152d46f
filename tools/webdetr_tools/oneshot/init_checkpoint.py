"""Starting a one-shot training from another checkpoint (train.init, tools/train_oneshot.py): which model-config
keys may differ from it, and loading its weights."""
from webdetr_tools.oneshot.model import OneShotConfig


def init_config_changes(init_config: dict, mcfg: OneShotConfig) -> dict:
    """The model-config keys a train.init checkpoint differs in, {key: (init, this run)}; only keys that
    change no parameter (OneShotConfig.WEIGHT_NEUTRAL, e.g. crop -> roi patch descriptors) may differ, and keys
    that add zero-initialised parameters (OneShotConfig.ADDS_ZERO_PARAMETERS) may turn on."""
    before, after = OneShotConfig.from_dict(init_config).to_dict(), mcfg.to_dict()
    changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    turned_on = {k for k, (a, b) in changed.items() if k in OneShotConfig.ADDS_ZERO_PARAMETERS and not a and b}
    refused = sorted(set(changed) - set(OneShotConfig.WEIGHT_NEUTRAL) - turned_on)
    if refused:
        raise SystemExit(
            f"train.init has another model config ({', '.join(refused)} differ); only "
            f"{', '.join(OneShotConfig.WEIGHT_NEUTRAL)} may change from the initial checkpoint, and "
            f"{', '.join(OneShotConfig.ADDS_ZERO_PARAMETERS)} may turn on"
        )
    return changed


def load_init_state(model, state_dict, changed: dict) -> None:
    """Loads a train.init checkpoint's weights (float16 releases as float32); the parameters that keys turned on
    in `changed` add (OneShotConfig.ADDS_ZERO_PARAMETERS) keep their zero initialisation."""
    added = tuple(
        prefix
        for k in changed
        if k in OneShotConfig.ADDS_ZERO_PARAMETERS
        for prefix in OneShotConfig.ADDS_ZERO_PARAMETERS[k]
    )
    result = model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}, strict=False
    )
    missing = [k for k in result.missing_keys if not k.startswith(added)] if added else list(result.missing_keys)
    if missing or result.unexpected_keys:
        raise SystemExit(
            f"train.init weights do not fit the model: missing {missing}, unexpected " f"{list(result.unexpected_keys)}"
        )
