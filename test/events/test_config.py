"""The rule file: shipped defaults load, wrong files fail naming the key, versions follow thresholds."""

from pathlib import Path

import pytest
import yaml

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.events import EventRules, Severity, default_rules_path, load_rules

REPO = Path(__file__).resolve().parents[2]


def test_default_rules_load_with_the_issue_thresholds():
    rules = load_rules()
    assert default_rules_path().is_file()
    assert rules.hard_braking.enter == -4.0 and rules.hard_braking.min_duration_s == 0.3
    assert [t.at for t in rules.low_ttc.tiers] == [3.0, 1.5, 0.95]
    assert rules.hard_braking.severity(-6.5) is Severity.CRITICAL
    assert rules.hard_braking.severity(-4.5) is Severity.WATCH
    assert rules.low_ttc.severity(0.5) is Severity.SEVERE


def test_path_and_default_agree():
    assert load_rules(default_rules_path()) == load_rules()


def test_version_changes_with_a_threshold_only_for_that_rule():
    base = load_rules()
    changed = load_rules(overrides={"hard_braking": {"min_duration_s": 0.5}})
    assert changed.version_of("hard_braking") != base.version_of("hard_braking")
    assert changed.version_of("low_ttc") == base.version_of("low_ttc")


def test_unordered_tiers_fail_naming_file_and_key(tmp_path):
    text = default_rules_path().read_text()
    text = text.replace("{at: -6.0, severity: critical}", "{at: -2.0, severity: critical}")
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert info.value.file == str(path) and info.value.key == "hard_braking"


def test_unknown_key_and_missing_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(default_rules_path().read_text() + "\nbogus_rule: {}\n")
    with pytest.raises(ConfigError, match="bogus_rule"):
        load_rules(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


SHIPPED = {"package": default_rules_path(), "config": REPO / "config" / "event_rules.yaml"}


@pytest.mark.parametrize("path", SHIPPED.values(), ids=SHIPPED.keys())
def test_shipped_rule_files_write_out_exactly_the_model_defaults(path):
    """Raw YAML against the model dump: a value that differs, or a key left out (which a parsed model would
    fill in from its default), fails."""
    assert path.is_file(), f"missing {path}"
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == EventRules().model_dump(mode="json")


def test_overrides_apply_to_the_default_rules():
    rules = load_rules(overrides={"edges": {"spread_scale": 4}})
    assert rules.edges.spread_scale == 4 and rules.edges.alpha == EventRules().edges.alpha
