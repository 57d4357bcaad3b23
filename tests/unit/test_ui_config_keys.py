"""Config keys the web UI tells users to set exist: a hint naming a key that `spanwise
config validate` rejects sends users in circles."""

from __future__ import annotations

import dataclasses
import re

from spanwise.config import Config
from spanwise.serve.ui import STATIC_DIR

SECTIONS = "|".join(f.name for f in dataclasses.fields(Config))
KEY = re.compile(rf"\b({SECTIONS})\.([a-z_]+) in the config")


def test_every_config_key_the_ui_names_exists() -> None:
    named = {(m.group(1), m.group(2)) for p in (STATIC_DIR / "js").rglob("*.js") for m in KEY.finditer(p.read_text())}
    assert ("models", "schedule_interval_s") in named  # the Monitoring tab's hint
    unknown = [f"{section}.{key}" for section, key in sorted(named)
               if key not in {f.name for f in dataclasses.fields(getattr(Config(), section))}]
    assert unknown == []
