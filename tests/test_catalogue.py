"""The event catalogue: the Office extractor, the builder, the loader, the shipped data, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagscope.cli import main
from diagscope.policy.catalogue import (
    LEVEL_ORDER,
    PRODUCTS,
    EventCatalogue,
    Source,
    load_all,
    load_bundled,
    lookup_any,
    stats,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "catalogue"
SHIPPED = ROOT / "src" / "diagscope" / "policies" / "catalogue"
SOURCES = ROOT / "scripts" / "sources" / "ms-docs"
EDGE_STABLE = "160f0649efde47b7832f05ed000fc453"
EDGE_BETA = "29e24d069f27450385c7acaa2f07e277"


def script(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)],
                          check=True, capture_output=True, text=True)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Windows fixture extracts, and the Office fixture documents run through the
    extractor: what scripts/sources/ms-docs holds, in small."""
    root = tmp_path_factory.mktemp("ms-docs")
    shutil.copytree(FIXTURES / "ms-docs" / "windows", root / "windows")
    script("extract_office_docs.py", FIXTURES / "office", "--out", root / "office")
    return root


@pytest.fixture(scope="module")
def built(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue")
    script("build_catalogue.py", "--sources", sources, "--out", out)
    return out


@pytest.fixture(scope="module")
def windows(built: Path) -> EventCatalogue:
    return EventCatalogue.from_file(built / "windows.json")


@pytest.fixture(scope="module")
def office(built: Path) -> EventCatalogue:
    return EventCatalogue.from_file(built / "office.json")


# The Office extractor


def test_extractor_writes_one_file_per_document_and_marks_common_fields(sources: Path):
    names = sorted(p.name for p in (sources / "office").iterdir())
    assert names == ["essential-services.jsonl", "optional-diagnostic-data.jsonl",
                     "required-common-fields.jsonl", "required-diagnostic-data.jsonl",
                     "required-service-data.jsonl"]
    every = [r for p in (sources / "office").iterdir() for r in rows(p)]
    assert {r["commit"] for r in every} == {"0123456789abcdef0123456789abcdef01234567"}
    assert all({"doc", "commit", "area", "event", "description", "fields"} <= set(r)
               for r in every)
    common = rows(sources / "office" / "required-common-fields.jsonl")
    assert [(r["area"], r["event"], r["fields"]) for r in common][:2] == [
        ("Categories and data fields that are common for all events", "App",
         ["Name", "Version"]),
        ("Categories and data fields that are common for all events", "Activity",
         ["CV", "Result.Code"]),
    ]
    assert common[0]["subtype"] == "Information common to all events"
    assert common[2]["area"] == "Data fields that are common for OneNote events"


def test_extractor_reads_events_subtypes_and_field_names(sources: Path):
    required = {r["event"]: r for r in rows(sources / "office" / "required-diagnostic-data.jsonl")}
    # Several events under one heading; a platform note after the name is not part of it.
    assert {"Office.Word.FileOpen.UserInitiatedOpen", "Office.Word.FileOpen.OpenFromMru",
            "Office.OfficeMobile.PdfViewer.PdfFileOperations"} <= set(required)
    update = required["Office.ClickToRun.UpdateStatus"]
    assert update["subtype"] == "Office setup and inventory"
    assert update["area"] == "Software setup and inventory data events"
    assert update["fields"] == ["Data_build", "Data_channel"]  # markdown escapes undone
    # Nested bullets become Parent.Child however unevenly indented; prose ends a list; a
    # note is not a description; "Standard HVA Activity" is not a field.
    settings = required["settings.action"]
    assert settings["description"] == "Tracks changes to the settings."
    assert settings["fields"] == [
        "setting_properties", "setting_properties.app_lock_state",
        "setting_properties.swipe_setting", "setting_properties.swipe_setting.swipe_action",
        "setting_properties.theme_color_setting", "late_field",
    ]
    essential = {r["event"]: r for r in rows(sources / "office" / "essential-services.jsonl")}
    assert "subtype" not in essential["Office.ClickToRun.UpdateStatus"]
    # Zero-width spaces, separators inside the bold, types and wire names in parentheses.
    heartbeat = essential["Office.Licensing.Heartbeat"]
    assert heartbeat["description"] == "Licence checks."
    assert heartbeat["fields"] == ["ActivationId", "Data_Count", "Type", "Data_Ctid",
                                   "Data_Channel"]
    # Events named by one word are events too; a bullet that lost its asterisks is a field.
    assert essential["Campaign"]["fields"] == [
        "Reason", "Reason.Campaign.Found", "Reason.Campaign.Shown", "SessionId", "platform"]


def test_extractor_reads_categories_and_example_events(sources: Path):
    optional = rows(sources / "office" / "optional-diagnostic-data.jsonl")
    categories = [r for r in optional if r["area"] == "Categories of optional diagnostic data"]
    assert [c["event"] for c in categories] == ["Software setup and inventory",
                                                "Product and service usage"]
    assert "Installed product and version" in categories[0]["description"]
    examples = [r["event"] for r in optional if r not in categories]
    assert examples == ["Office.Extensibility.AppCommands.AppCmdInstall",
                        "Office.Word.Commanding.Highlight", "Office.ClickToRun.UpdateStatus"]
    service = rows(sources / "office" / "required-service-data.jsonl")
    performance = next(r for r in service if r["event"] == "Product and service performance")
    assert performance["description"].endswith("may cover crashes.")
    assert "crashes" not in service[0]["description"]


@pytest.mark.parametrize("bare", [False, True])
def test_extractor_reads_a_git_checkout_or_bare_directory(tmp_path: Path, bare: bool):
    checkout = tmp_path / "docs"
    shutil.copytree(FIXTURES / "office", checkout)
    (checkout / "COMMIT").unlink()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(checkout)]
    for step in (["init", "-q"], ["add", "."], ["commit", "-qm", "docs"]):
        subprocess.run([*git, *step], check=True, capture_output=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    where = checkout
    if bare:
        where = tmp_path / "docs.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(checkout), str(where)], check=True,
                       capture_output=True)
    script("extract_office_docs.py", where, "--out", tmp_path / "out")
    extracted = rows(tmp_path / "out" / "essential-services.jsonl")
    assert {r["commit"] for r in extracted} == {head}
    assert len(extracted) == 3


# The builder


def test_builder_merges_levels_fields_and_sources(windows: EventCatalogue,
                                                  office: EventCatalogue):
    state = windows.lookup("Microsoft.Windows.Kernel.Power.OSStateChange")
    assert state is not None
    assert state.levels == ("required", "enhanced") and state.level == "required"
    assert state.fields == ("BootId", "UptimeDeltaMS")
    assert [s.id for s in state.sources] == ["win10-1703", "win10-enhanced"]
    # The enhanced document has no areas: the required one names it.
    assert state.category == "Kernel"
    census = windows.lookup("Census.OS")
    assert census is not None
    # Union of the fields in every document, sorted; the newest document's description.
    assert census.fields == ("InstallLanguage", "OSEdition", "OSSkuId")
    assert census.description == "Operating system data, newest wording."
    assert [s.id for s in census.sources] == ["win11-24h2", "win10-1703"]
    update = office.lookup("Office.ClickToRun.UpdateStatus")
    assert update is not None
    assert update.levels == ("essential", "required", "optional")
    assert update.level == "essential"
    assert update.category == "Click-to-Run" and update.subtype == "Office setup and inventory"
    assert update.fields == ("build", "Data_build", "Data_channel", "status")
    pdf = office.lookup("Office.OfficeMobile.PdfViewer.PdfFileOperations")
    assert pdf is not None and pdf.fields == ("Data_ErrorCode", "Data_FileOpenEntryPoint")
    highlight = office.lookup("Office.Word.Commanding.Highlight")
    assert highlight is not None and highlight.levels == ("optional",)


def test_builder_keeps_sections_out_of_the_events(windows: EventCatalogue,
                                                  office: EventCatalogue):
    names = {e.name for e in windows}
    assert not names & {"Common Data Extensions.app", "Ms.Device.DeviceInventoryChange",
                        "wilActivity", "Office events added", "Browsing History data",
                        "Data Use for Browsing History data"}
    # A stray space after a dot in a documented name is the same event.
    memory = "Microsoft.Windows.Inventory.General.InventoryMiscellaneousMemorySlotArrayInfoRemove"
    assert memory in names and len(names) == 5
    assert windows.common_fields == frozenset()
    assert [(c.name, c.level) for c in windows.categories] == [("Browsing History data",
                                                                "optional")]
    assert office.common_fields == frozenset({"App.Name", "App.Version", "Activity.CV",
                                              "Activity.Result.Code"})
    assert [(c.name, c.level) for c in office.categories] == [
        ("Product and service performance", "service"),
        ("Software setup and inventory", "service"),
        ("Product and service usage", "optional"),
        ("Software setup and inventory", "optional"),
    ]
    assert office.lookup("Campaign") is not None
    assert office.lookup("Data fields that are common for OneNote events") is None


def test_builder_keeps_every_documented_field(sources: Path, tmp_path: Path):
    copy = tmp_path / "ms-docs"
    shutil.copytree(sources, copy)
    many = [f"Field{n:03}" for n in range(150)]
    row = {"doc": "windows/privacy/basic-level-windows-diagnostic-events-and-fields-1703.md",
           "commit": "b" * 40, "area": "Census events", "event": "Census.Many",
           "description": "A long description. " * 30, "fields": many}
    with (copy / "windows" / "basic-1703.jsonl").open("a", encoding="utf-8") as fo:
        fo.write(json.dumps(row) + "\n")
    script("build_catalogue.py", "--sources", copy, "--out", tmp_path / "out")
    entry = EventCatalogue.from_file(tmp_path / "out" / "windows.json").lookup("Census.Many")
    assert entry is not None and entry.fields == tuple(many)
    assert len(entry.description) <= 300 and "\n" not in entry.description


def test_builder_writes_one_event_a_line_sorted_and_deterministically(built: Path,
                                                                      sources: Path,
                                                                      tmp_path: Path):
    text = (built / "windows.json").read_text(encoding="utf-8")
    document = json.loads(text)
    assert set(document) == {"product", "generated_by", "documents", "common_fields",
                             "categories", "events"}
    names = [e["name"] for e in document["events"]]
    assert names == sorted(names)
    event_lines = text.split(' "events": [\n', 1)[1].splitlines()[:-2]
    assert all(line.startswith(f'  {{"name": "{name}", "levels"')
               for name, line in zip(names, event_lines, strict=True))
    script("build_catalogue.py", "--sources", sources, "--out", tmp_path)
    for product in ("windows", "office"):
        assert (tmp_path / f"{product}.json").read_bytes() == \
            (built / f"{product}.json").read_bytes()


def test_builder_rejects_rows_of_an_unknown_document(sources: Path, tmp_path: Path):
    copy = tmp_path / "ms-docs"
    shutil.copytree(sources, copy)
    (copy / "windows" / "stray.jsonl").write_text(json.dumps(
        {"doc": "windows/privacy/elsewhere.md", "commit": "e" * 40, "area": "X events",
         "event": "X.Y", "description": "", "fields": []}) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_catalogue.py"),
                           "--sources", str(copy), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "unknown document windows/privacy/elsewhere.md" in \
        done.stderr


def test_rebuilding_from_the_committed_extracts_gives_the_shipped_files(tmp_path: Path):
    script("build_catalogue.py", "--sources", SOURCES, "--out", tmp_path)
    for product in ("windows", "office"):
        assert (tmp_path / f"{product}.json").read_bytes() == \
            (SHIPPED / f"{product}.json").read_bytes()


# The loader


def test_lookup_forms(office: EventCatalogue, windows: EventCatalogue):
    assert office.lookup("office.clicktorun.updatestatus") is not None
    assert office.lookup("Office_ClickToRun_UpdateStatus") is not None
    assert office.lookup("Office.ClickToRun.Unknown") is None
    memory = "Microsoft.Windows.Inventory.General.InventoryMiscellaneousMemorySlotArrayInfoRemove"
    assert windows.lookup(memory.replace(".General.", ".General. ")) is not None


def test_edge_events_are_found_by_their_short_name(windows: EventCatalogue):
    full = f"Aria.{EDGE_STABLE}.Microsoft.WebBrowser.SystemInfo.Config"
    entry = windows.lookup(full)
    assert entry is not None and entry.tenant == EDGE_STABLE
    assert entry.short_name == "Microsoft.WebBrowser.SystemInfo.Config"
    short = windows.lookup("Microsoft.WebBrowser.SystemInfo.Config")
    assert short is not None and short.tenant in (EDGE_STABLE, EDGE_BETA)
    assert windows.lookup("microsoft.webbrowser.systeminfo.config") is not None
    # A tenant the documents do not list still finds the documented event.
    assert windows.lookup(f"Aria.{'0' * 32}.Microsoft.WebBrowser.SystemInfo.Config") \
        is not None
    assert windows.tenants("Microsoft.WebBrowser.SystemInfo.Config") == (EDGE_STABLE,
                                                                         EDGE_BETA)
    census = windows.lookup("Census.OS")
    assert census is not None and census.tenant is None


def test_entries_carry_their_documents(windows: EventCatalogue):
    entry = windows.lookup("Microsoft.Windows.Kernel.Power.OSStateChange")
    assert entry is not None and entry.product == "windows"
    source = entry.sources[1]
    assert isinstance(source, Source)
    assert (source.repository, source.level, source.versions) == (
        "MicrosoftDocs/windows-itpro-docs", "enhanced", ("Windows 10 1709 and later",))
    assert source.path == \
        "windows/privacy/enhanced-diagnostic-data-windows-analytics-events-and-fields.md"
    assert source.commit == "c" * 40
    assert [d.id for d in windows.documents] == ["win11-24h2", "win10-1703", "win10-enhanced",
                                                 "win10-full"]
    # Entries share the document objects rather than copying them.
    census = windows.lookup("Census.OS")
    assert census is not None and census.sources[1] is entry.sources[0]


def test_search_lists_name_matches_first(windows: EventCatalogue):
    found = [e.name for e in windows.search("kernel")]
    assert found[0] == "Microsoft.Windows.Kernel.Power.OSStateChange"
    assert [e.name for e in windows.search("MICROSOFT EDGE")] == [
        f"Aria.{EDGE_STABLE}.Microsoft.WebBrowser.SystemInfo.Config",
        f"Aria.{EDGE_BETA}.Microsoft.WebBrowser.SystemInfo.Config"]
    by_description = windows.search("newest wording")
    assert [e.name for e in by_description] == ["Census.OS"]
    assert windows.search("nothing like this") == []


def test_catalogue_stats(windows: EventCatalogue):
    assert windows.stats() == {
        "events": 5, "with_fields": 5, "sources": 4,
        "levels": {"required": 5, "enhanced": 1},
        "documents": {"win11-24h2": 3, "win10-1703": 3, "win10-enhanced": 1, "win10-full": 0},
    }


# The shipped data

REQUIRED_WINDOWS_EVENTS = (
    "Census.Battery", "Census.Enterprise", "Census.Firmware", "Census.Flighting",
    "Census.Hardware", "Census.Memory", "Census.Network", "Census.OS",
    "Census.PrivacySettings", "Census.Processor", "Census.Security", "Census.Speech",
    "Census.Storage", "Census.UserDisplay", "Census.UserNLS", "Census.UserPrivacySettings",
    "Census.Userdefault", "Census.VM", "Census.WU",
    "Microsoft.Windows.Kernel.Power.OSStateChange", "Win32kTraceLogging.AppInteractivitySummary",
    "Microsoft.Windows.StoreAgent.Telemetry.InstallOperationRequest",
)


def test_shipped_catalogues_are_complete():
    office, windows = load_bundled("office"), load_bundled("windows")
    assert office is not None and windows is not None
    assert len({e.name for e in windows}) >= 1000
    assert sum(1 for e in windows if e.fields) >= 0.9 * len(windows)
    assert len(office) >= 1100
    for name in REQUIRED_WINDOWS_EVENTS:
        found = lookup_any(name)
        assert found is not None and found[0] == "windows", name
    assert lookup_any("No.Such.Event") is None
    assert {"App.Name", "Session.Id", "Activity.Result.Code"} <= office.common_fields
    assert {c.level for c in office.categories} == {"optional", "service"}
    assert {c.level for c in windows.categories} == {"optional"}


def test_shipped_entries_name_their_documents():
    for catalogue in load_all():
        listed = {d.id: d for d in catalogue.documents}
        for document in listed.values():
            assert len(document.commit) == 40 and document.repository and document.versions
        for entry in catalogue:
            assert entry.sources, entry.name
            assert all(s.id in listed for s in entry.sources), entry.name
            assert entry.level == entry.levels[0] and entry.levels == tuple(
                sorted(entry.levels, key=LEVEL_ORDER.index))
            assert len(entry.description) <= 300 and "\n" not in entry.description


def test_shipped_levels_and_edge_events():
    found = lookup_any("Microsoft.Windows.Kernel.Power.OSStateChange")
    assert found is not None and found[1].levels == ("required", "enhanced")
    update = lookup_any("Office.ClickToRun.UpdateStatus")
    assert update is not None and update[1].level == "essential"
    edge = lookup_any("Microsoft.WebBrowser.SystemInfo.Config")
    assert edge is not None and edge[0] == "windows" and edge[1].tenant is not None
    highlight = lookup_any("Office.Word.Commanding.Highlight")
    assert highlight is not None and highlight[1].levels == ("optional",)


def test_stats_shape():
    figures = stats()
    assert set(figures) == {"products"} and set(figures["products"]) == set(PRODUCTS)
    for counts in figures["products"].values():
        assert set(counts) == {"events", "with_fields", "sources", "levels", "documents"}
        assert counts["sources"] == len(counts["documents"])


# The command line


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_catalogue_show():
    result = run("catalogue", "show", "Census.OS")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("Census.OS\n") and "product:     windows" in out
    assert "levels:      required" in out and "area:        Census" in out
    assert "    InstallLanguage\n" in out
    assert "MicrosoftDocs/windows-itpro-docs  windows/privacy/" \
           "basic-level-windows-diagnostic-events-and-fields-1703.md" in out
    assert "Windows 10 1703" in out and "commit " in out
    edge = run("catalogue", "show", "Microsoft.WebBrowser.SystemInfo.Config").output
    assert "tenant:" in edge and edge.startswith("Aria.")


def test_cli_catalogue_show_suggests_close_names():
    result = run("catalogue", "show", "Census.Batery")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "Census.Batery is not in the catalogue; close names: Census.Battery" in result.output


def test_cli_catalogue_search():
    result = run("catalogue", "search", "census", "--product", "windows", "--limit", "3")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "product", "level", "area"]
    assert len(lines) == 5 and lines[-1].startswith("... ") and "more" in lines[-1]
    assert all(" windows " in line for line in lines[1:4])
    office_only = run("catalogue", "search", "ClickToRun.UpdateStatus", "--product", "office")
    assert [line.split()[:3] for line in office_only.output.splitlines()[1:]] == [
        ["Office.ClickToRun.UpdateStatus", "office", "essential"]]


def test_cli_catalogue_stats():
    figures = json.loads(run("catalogue", "stats", "--format", "json").output)
    assert figures == stats()
    text = run("catalogue", "stats").output
    assert f"windows: {figures['products']['windows']['events']} events" in text
