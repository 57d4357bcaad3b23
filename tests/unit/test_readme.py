"""The README's configuration is real: every YAML example loads as a Spanwise config
without an error, and every `section.key` it names is a key of the configuration."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest
import yaml

from spanwise.config import Config, load_config

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.DOTALL)
SECTIONS = {f.name for f in dataclasses.fields(Config)}
#: `section.key.subkey` in backticks, e.g. `ingest.max_age_days`; `ml.*` are attribute names
#: (the canonical AI fields), not keys of the `ml` section.
KEY_MENTIONS = sorted(set(re.findall(rf"`((?:{'|'.join(SECTIONS - {'ml'})})\.[a-z_]+(?:\.[a-z_]+)*)`", README)))


def test_the_readme_has_config_examples() -> None:
    assert len(YAML_BLOCKS) >= 5 and len(KEY_MENTIONS) >= 20


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[b.split(":", 1)[0] for b in YAML_BLOCKS])
def test_every_yaml_example_is_a_valid_config(block: str, tmp_path: Path) -> None:
    assert set(yaml.safe_load(block)) <= SECTIONS
    path = tmp_path / "spanwise.yaml"
    path.write_text(block, encoding="utf-8")
    load_config(str(path), environ={"SPANWISE_PII_KEY": "k", "HOOK_SECRET": "s", "SMTP_PASSWORD": "p"})


def _has_key(cls: type, path: list[str]) -> bool:
    hints = typing.get_type_hints(cls)
    if path[0] not in hints:
        return False
    if len(path) == 1:
        return True
    hint = hints[path[0]]
    if typing.get_origin(hint) is dict:  # e.g. models.per_model.<name>: the rest is a placeholder
        return True
    return dataclasses.is_dataclass(hint) and _has_key(hint, path[1:])  # type: ignore[arg-type]


@pytest.mark.parametrize("mention", KEY_MENTIONS)
def test_every_config_key_the_readme_names_exists(mention: str) -> None:
    assert _has_key(Config, mention.split(".")), f"README names `{mention}`, which is not a configuration key"
