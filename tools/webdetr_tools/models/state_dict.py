"""Strict loading of official state dicts into models whose parameter names follow the official code.

API: load_strict(module, state_dict) -> None; raises KeyMismatchError (a ValueError) naming every missing
and every unexpected key. Modules shared under several names (the official plain model's class_embed.0..N,
refinement's transformer.decoder.bbox_embed aliases) appear under each name and take, as in the official
load_state_dict, the value of the name loaded last.
"""


class KeyMismatchError(ValueError):
    def __init__(self, missing, unexpected):
        self.missing, self.unexpected = list(missing), list(unexpected)
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing key(s): " + ", ".join(self.missing))
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unknown key(s): " + ", ".join(self.unexpected))
        super().__init__("official state dict does not match the model: " + "; ".join(parts))


def load_strict(module, state_dict) -> None:
    expected = set(module.state_dict().keys())
    given = set(state_dict.keys())
    missing = sorted(expected - given)
    unexpected = sorted(given - expected)
    if missing or unexpected:
        raise KeyMismatchError(missing, unexpected)
    module.load_state_dict(state_dict, strict=True)
