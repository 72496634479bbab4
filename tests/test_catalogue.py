"""The event catalogue: the builder over Microsoft's documents, the loader, the shipped data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diagscope.policy.catalogue import EventCatalogue, load_bundled, lookup_any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "catalogue"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("catalogue")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_catalogue.py"), "--office",
                    str(FIXTURES / "office"), "--out", str(out)], check=True,
                   capture_output=True)
    return out / "office.yaml"


def test_builder_reads_levels_categories_subtypes_and_fields(built):
    catalogue = EventCatalogue.from_file(built)
    entry = catalogue.lookup("Office.ClickToRun.UpdateStatus")
    assert entry is not None
    # Listed as required and as essential: the lowest level wins, both sources are kept.
    assert entry.level == "essential"
    # The first document read names the category (the essential service); the other adds
    # the subtype it documents.
    assert entry.category == "Click-to-Run"
    assert entry.subtype == "Office setup and inventory"
    assert entry.fields == ("Data_build", "Data_channel")
    assert entry.description == "The same event, also documented as essential."
    assert len(entry.sources) == 2 and all("@0123456789ab:" in s for s in entry.sources)
    document = yaml.safe_load(built.read_text())
    raw = next(e for e in document["events"] if e["name"] == "Office.ClickToRun.UpdateStatus")
    assert raw["levels"] == ["essential", "required"]
    assert document["sources"][0]["commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_builder_splits_multi_name_headings_and_cleans_invisible_characters(built):
    catalogue = EventCatalogue.from_file(built)
    assert catalogue.lookup("Office.Word.FileOpen.OpenFromMru").level == "required"
    heartbeat = catalogue.lookup("Office.Licensing.Heartbeat")
    assert heartbeat.category == "Licensing" and heartbeat.fields == ("ActivationId",)
    assert catalogue.lookup("Office.Feature.Use").subtype == "Application feature success"
    assert len(catalogue) == 5


def test_builder_is_deterministic(built, tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_catalogue.py"), "--office",
                    str(FIXTURES / "office"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    assert (tmp_path / "office.yaml").read_bytes() == built.read_bytes()


def test_lookup_forms(built):
    catalogue = EventCatalogue.from_file(built)
    assert catalogue.lookup("office.clicktorun.updatestatus") is not None
    assert catalogue.lookup("Office_ClickToRun_UpdateStatus") is not None
    assert catalogue.lookup("Office.ClickToRun.Unknown") is None


def test_shipped_catalogues():
    office, windows = load_bundled("office"), load_bundled("windows")
    assert office is not None and len(office) > 1000
    assert windows is not None and len(windows) > 200
    assert office.lookup("Office.ClickToRun.UpdateStatus").level == "essential"
    assert office.lookup("Office.System.SystemHealthMetadata") is not None or \
        office.lookup("Office.Telemetry.ProcessIdleQueueJob") is not None
    assert windows.lookup("Microsoft.Windows.Inventory.Core.InventoryApplicationAdd").level == \
        "required"
    assert lookup_any("Microsoft.Windows.Update.WUClient.InstallSucceeded")[0] == "windows"
    assert lookup_any("No.Such.Event") is None
    for catalogue in (office, windows):
        assert catalogue.sources[0]["commit"] and catalogue.sources[0]["repository"]


def test_regenerating_the_shipped_windows_catalogue_gives_the_committed_file(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_catalogue.py"), "--windows",
                    str(ROOT / "scripts" / "sources" / "windows-itpro-docs"), "--out",
                    str(tmp_path)], check=True, capture_output=True)
    shipped = ROOT / "src" / "diagscope" / "policies" / "catalogue" / "windows.yaml"
    assert (tmp_path / "windows.yaml").read_bytes() == shipped.read_bytes()
