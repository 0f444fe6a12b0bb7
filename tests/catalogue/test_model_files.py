"""Catalogue files: load, save (YAML/JSON by extension), validation errors naming the file and field path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execplanner.catalogue import Catalogue, NetworkRole, PublicAccess, SiteStatus, default_catalogue_path
from execplanner.catalogue.schema import catalogue_json_schema, catalogue_json_schema_text, schema_errors
from execplanner.errors import CatalogueError

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def test_load_hand_written_catalogue() -> None:
    cat = Catalogue.load(FIXTURES / "two-sites.yaml")
    assert [s.name for s in cat.sites] == ["GPU-SITE", "REFUSING-SITE"]
    site = cat.site("GPU-SITE")
    assert site is not None and site.country == "ES"
    vo = site.vo("vo.access.egi.eu")
    assert vo is not None
    gpu_flavor = vo.flavor("g1.gpu-v100")
    assert gpu_flavor is not None and gpu_flavor.gpu is not None and gpu_flavor.gpu.model == "Tesla V100"
    assert vo.flavor("m1.small").gpu is None
    assert vo.image("ubuntu-22.04-docker").appliances == ["docker"]
    public = vo.public_network()
    assert public is not None and public.access is PublicAccess.FLOATING_IP
    assert vo.attach_network().role is NetworkRole.VO_PRIVATE
    assert vo.quota.cores.available == 31
    assert cat.site("NOPE") is None


def test_sites_for_vo_skips_unusable_sites_unless_asked() -> None:
    cat = Catalogue.load(FIXTURES / "two-sites.yaml")
    assert [s.name for s, _ in cat.sites_for_vo("vo.access.egi.eu")] == ["GPU-SITE"]
    everything = cat.sites_for_vo("vo.access.egi.eu", include_unavailable=True)
    assert [(s.name, s.status) for s, _ in everything] == [
        ("GPU-SITE", SiteStatus.OK),
        ("REFUSING-SITE", SiteStatus.AUTH_ERROR),
    ]
    assert cat.sites_for_vo("no.such.vo") == []


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_save_and_load_round_trip(tmp_path: Path, suffix: str) -> None:
    original = Catalogue.load(FIXTURES / "two-sites.yaml")
    target = tmp_path / f"cat{suffix}"
    original.save(target)
    text = target.read_text()
    if suffix == ".json":
        json.loads(text)
    else:
        assert text.lstrip().startswith("schema_version")
    assert Catalogue.load(target) == original
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp file left behind"


def test_document_round_trip_is_identity() -> None:
    original = Catalogue.load(FIXTURES / "two-sites.yaml")
    document = original.to_document()
    assert json.loads(json.dumps(document)) == document
    assert Catalogue.from_document(document) == original


@pytest.mark.parametrize(
    ("fixture", "path_fragment"),
    [
        ("bad-vcpus.yaml", "$.sites[0].vos[0].flavors[1].vcpus"),
        ("unknown-field.yaml", "$.sites[0].vos[0].netwroks"),
        ("bad-role.json", "$.sites[0].vos[0].networks[0].role"),
        ("not-yaml.yaml", "not well-formed YAML"),
        ("not-a-mapping.yaml", "expected a mapping"),
    ],
)
def test_invalid_catalogue_names_file_and_field(fixture: str, path_fragment: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        Catalogue.load(FIXTURES / fixture)
    assert fixture in caught.value.message
    assert path_fragment in caught.value.message


def test_missing_file_and_unknown_extension() -> None:
    with pytest.raises(CatalogueError, match="cannot read catalogue"):
        Catalogue.load(FIXTURES / "missing.yaml")
    with pytest.raises(CatalogueError, match="unknown extension"):
        Catalogue.load(FIXTURES / "two-sites.txt")


def test_committed_schema_matches_the_model() -> None:
    committed = (REPO / "schemas" / "catalogue.schema.json").read_text()
    assert committed == catalogue_json_schema_text(), (
        "schemas/catalogue.schema.json is stale: run `execplanner catalogue schema -o schemas/catalogue.schema.json`"
    )
    assert catalogue_json_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("fixture", ["two-sites.yaml", "bad-vcpus.yaml", "unknown-field.yaml", "bad-role.json"])
def test_schema_and_model_agree(fixture: str) -> None:
    from execplanner.catalogue._files import read_document

    document = read_document(FIXTURES / fixture)
    schema_ok = not schema_errors(document)
    try:
        Catalogue.from_document(document)
        model_ok = True
    except CatalogueError:
        model_ok = False
    assert schema_ok == model_ok == (fixture == "two-sites.yaml")


def test_bundled_default_catalogue_loads() -> None:
    cat = Catalogue.load(default_catalogue_path())
    assert cat.source.startswith("simcloud")
    assert cat.sites_for_vo("vo.access.egi.eu")
