from pathlib import Path

import pytest

from diagscope.model import Level
from diagscope.policy.load import PolicyError, bundled_names, load_policy


def test_default_policy_is_the_agreement():
    loaded = load_policy()
    policy = loaded.policy
    assert policy.name == "slm-rijk-2019"
    assert policy.products["office"].max_level is Level.SERVICE  # "neither"
    assert policy.products["windows"].max_level is Level.ESSENTIAL  # "security"
    assert policy.destinations.required_region == "eu"
    assert policy.transport.plaintext_http_allowed is False
    assert len(loaded.sha256) == 64
    assert "slm-rijk-2019" in bundled_names()


def test_policy_by_path(tmp_path: Path):
    src = load_policy().path
    copy = tmp_path / "copy.yaml"
    copy.write_text(Path(src).read_text(encoding="utf-8"), encoding="utf-8")
    assert load_policy(str(copy)).policy.name == "slm-rijk-2019"


def test_extends_changes_only_what_it_names(tmp_path: Path):
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "extends: slm-rijk-2019\nname: lab\nproducts:\n  office:\n    max_level: basic\n",
        encoding="utf-8",
    )
    loaded = load_policy(str(lab))
    assert loaded.policy.name == "lab"
    assert loaded.policy.products["office"].max_level is Level.REQUIRED
    assert "26 October 2018" in loaded.policy.products["office"].clause  # kept from the base
    assert loaded.policy.products["windows"].max_level is Level.ESSENTIAL
    assert loaded.sha256 != load_policy().sha256


def test_bad_value_names_file_line_and_field(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: slm-rijk-2019\nname: bad\nproducts:\n  office:\n    max_level: loud\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as err:
        load_policy(str(bad))
    message = str(err.value)
    assert f"{bad}:5" in message
    assert "products.office.max_level" in message
    assert "unknown level 'loud'" in message


def test_unknown_field_is_rejected(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: slm-rijk-2019\nmaximum_level: 3\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.yaml:2: maximum_level: Extra inputs"):
        load_policy(str(bad))


def test_broken_yaml_names_the_line(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nproducts: [\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.yaml:\d+: not valid YAML"):
        load_policy(str(bad))


def test_extends_loop_is_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="loop"):
        load_policy(str(tmp_path / "a.yaml"))


def test_unknown_names_list_the_bundled_policies():
    with pytest.raises(PolicyError, match="slm-rijk-2019"):
        load_policy("no-such-policy")
