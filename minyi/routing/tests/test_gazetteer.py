"""The gazetteer: what the place finder is built from, its cache, the CSV/XLSX import, its command and its
admin view."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse

from minyi.accounts.models import Region
from minyi.cases.tests.factories import RegionFactory, UserFactory
from minyi.routing import services
from minyi.routing.gazetteer import GazetteerFileError, gazetteer_import
from minyi.routing.models import Place
from minyi.routing.services import gazetteer, place_ids
from minyi.text.locate import Location, PlaceMatch

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "gazetteer.example.csv"
HEADER = ["名称", "类型", "上级", "编码", "别名"]


def write_csv(tmp_path: Path, rows, *, header=HEADER, encoding="utf-8", name="places.csv") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    target = tmp_path / name
    target.write_bytes(buffer.getvalue().encode(encoding))
    return str(target)


BASE_ROWS = [
    ["江城市", "城市", "", "jc", "江城"],
    ["江北区", "区县", "jc", "jc-jb", ""],
    ["滨江街道", "街道乡镇", "江城市/江北区", "", "滨江街"],
]


@pytest.fixture
def base(tmp_path):
    """江城市 > 江北区 > 滨江街道, imported."""
    report = gazetteer_import(path=write_csv(tmp_path, BASE_ROWS, name="base.csv"))
    assert report.ok and report.applied
    return {r.name: r for r in Region.objects.all()}


# --- gazetteer() ---------------------------------------------------------------------------------------


@pytest.fixture
def fresh_gazetteer(monkeypatch):
    """No process-wide copy left over from another test."""
    monkeypatch.setattr(services, "_gazetteer_state", None)


def test_gazetteer_holds_regions_and_active_places(fresh_gazetteer):
    city = RegionFactory(name="江城市", level=Region.Level.CITY, aliases="江城、江城市区")
    street = RegionFactory(name="滨江街道", level=Region.Level.STREET, parent=city, aliases="滨江街, 滨江")
    province = RegionFactory(name="江南省", level=Region.Level.PROVINCE)
    estate = Place.objects.create(name="翠湖苑", kind="estate", region=street, aliases="翠湖苑小区 翠湖花苑")
    school = Place.objects.create(name="云杉实验小学", kind="school", region=street)
    hidden = Place.objects.create(name="旧货市场", kind="market", region=street, is_active=False)
    g = gazetteer()
    assert len(g) == 5
    assert g.place(f"r:{street.pk}").parent == f"r:{city.pk}"
    assert g.place(f"r:{street.pk}").aliases == ("滨江街", "滨江")
    assert g.place(f"r:{city.pk}").aliases == ("江城", "江城市区")
    assert g.place(f"r:{city.pk}").parent is None
    assert g.place(f"r:{province.pk}").kind == "city"  # the finder's top tier
    assert g.place(f"p:{estate.pk}").kind == "estate"
    assert g.place(f"p:{estate.pk}").aliases == ("翠湖苑小区", "翠湖花苑")
    assert g.place(f"p:{school.pk}").kind == "landmark"  # schools, hospitals, markets are landmarks to it
    assert g.place(f"p:{school.pk}").parent == f"r:{street.pk}"
    assert f"p:{hidden.pk}" not in g
    location = g.locate("滨江街翠湖花苑3栋楼道漏水")
    assert place_ids(location) == (street.pk, estate.pk)


def test_gazetteer_is_cached_until_a_region_or_place_changes(fresh_gazetteer):
    street = RegionFactory(name="滨江街道", level=Region.Level.STREET)
    first = gazetteer()
    assert gazetteer() is first
    street.aliases = "滨江片区"
    street.save()
    second = gazetteer()
    assert second is not first
    assert "滨江片区" in second.names(f"r:{street.pk}")
    place = Place.objects.create(name="翠湖苑", kind="estate", region=street)
    third = gazetteer()
    assert f"p:{place.pk}" in third
    place.delete()
    assert f"p:{place.pk}" not in gazetteer()


def test_a_change_in_another_process_is_seen_through_the_stamp(fresh_gazetteer):
    street = RegionFactory(name="滨江街道", level=Region.Level.STREET)
    first = gazetteer()
    # a write that sends no signal (as from another process with its own in-memory copy) ...
    Region.objects.filter(pk=street.pk).update(name="望江街道")
    assert gazetteer() is first
    # ... is seen once that process bumps the shared stamp
    services.gazetteer_changed()
    assert gazetteer().place(f"r:{street.pk}").name == "望江街道"


def test_the_stamp_is_bumped_on_save_and_again_after_the_commit(django_capture_on_commit_callbacks):
    assert cache.get(services.GAZETTEER_STAMP_KEY) is None
    with django_capture_on_commit_callbacks() as callbacks:
        region = RegionFactory(name="滨江街道")
    during = cache.get(services.GAZETTEER_STAMP_KEY)
    assert during is not None and callbacks
    for callback in callbacks:
        callback()
    after_commit = cache.get(services.GAZETTEER_STAMP_KEY)
    assert after_commit not in (None, during)
    region.delete()
    assert cache.get(services.GAZETTEER_STAMP_KEY) != after_commit


def test_the_copy_is_rebuilt_after_the_maximum_age_whatever_the_stamp(fresh_gazetteer, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(services, "_monotonic", lambda: clock[0])
    street = RegionFactory(name="滨江街道", level=Region.Level.STREET)
    first = gazetteer()
    Region.objects.filter(pk=street.pk).update(name="望江街道")  # no signal, no stamp
    clock[0] += services.GAZETTEER_MAX_AGE - 1
    assert gazetteer() is first
    clock[0] += 2
    assert gazetteer().place(f"r:{street.pk}").name == "望江街道"


def test_import_invalidates_the_gazetteer(fresh_gazetteer, base, tmp_path):
    before = gazetteer()
    gazetteer_import(path=write_csv(tmp_path, [["翠湖苑", "小区", "滨江街道", "", ""]]))
    after = gazetteer()
    assert after is not before
    place = Place.objects.get(name="翠湖苑")
    assert place_ids(after.locate("翠湖苑3栋")) == (base["滨江街道"].pk, place.pk)


@pytest.mark.parametrize(
    ("place_id", "region_id", "expected"),
    [
        ("p:7", "r:3", (3, 7)),
        ("r:3", "r:3", (3, None)),
        ("r:9", None, (9, None)),  # a region-kind place is its own region
        (None, None, (None, None)),
        ("x:1", "r:abc", (None, None)),
        (17, "r:", (None, None)),
    ],
)
def test_place_ids(place_id, region_id, expected):
    matches = (PlaceMatch(0, 2, "某地", place_id, "estate"),) if place_id else ()
    assert place_ids(Location(place_id, region_id, matches)) == expected


def test_place_ids_of_nothing():
    assert place_ids(None) == (None, None)


# --- the import -----------------------------------------------------------------------------------------


def test_the_example_file_imports_and_reimports_unchanged():
    report = gazetteer_import(path=str(EXAMPLE))
    assert report.errors == []
    assert report.applied
    assert report.created == {
        "city": 1,
        "district": 1,
        "street": 1,
        "community": 2,
        "estate": 1,
        "road": 1,
        "school": 1,
        "market": 1,
        "company": 1,
        "landmark": 1,
    }
    community = Region.objects.get(name="幸福里社区")
    assert [r.name for r in community.ancestors()] == ["江城市", "江北区", "滨江街道", "幸福里社区"]
    assert community.level == Region.Level.COMMUNITY
    assert re.fullmatch(r"gz-[0-9a-f]{12}", community.code)
    assert Region.objects.get(code="jc-jb-bj").aliases == "滨江街 滨江街道办"
    estate = Place.objects.get(name="翠湖苑")
    assert (estate.kind, estate.region, estate.aliases) == ("estate", community, "翠湖苑小区 翠湖花苑")
    assert Place.objects.get(name="明远科技有限公司").region.code == "jc-jb-bj"

    again = gazetteer_import(path=str(EXAMPLE))
    assert (again.created, again.updated, again.unchanged, again.errors) == ({}, {}, 11, [])
    assert Region.objects.count() == 5 and Place.objects.count() == 6
    assert Region.objects.get(name="幸福里社区").code == community.code  # generated codes are stable


def test_reimport_updates_what_changed(base, tmp_path):
    rows = [
        ["江城市", "城市", "", "jc", "江城 江城市区"],  # aliases changed
        ["江北区", "区县", "jc", "jc-jb", ""],  # unchanged
        ["江南区", "区县", "jc", "jc-jn", ""],  # new
        ["滨江街道", "街道乡镇", "jc-jn", "", ""],  # the same name under another parent: a new street
        ["望江路", "道路", "江城市/江北区/滨江街道", "", ""],
    ]
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    assert report.errors == []
    assert report.updated == {"city": 1}
    assert report.created == {"district": 1, "street": 1, "road": 1}
    assert report.unchanged == 1
    assert Region.objects.get(code="jc").aliases == "江城 江城市区"
    assert Region.objects.filter(name="滨江街道").count() == 2

    place_rows = [["望江路", "地标", "江城市/江北区/滨江街道", "", "望江大道"]]
    report = gazetteer_import(path=write_csv(tmp_path, place_rows))
    assert report.updated == {"landmark": 1}
    road = Place.objects.get(name="望江路")
    assert (road.kind, road.aliases) == ("landmark", "望江大道")


def test_a_region_matched_by_code_is_renamed_and_moved_with_its_subtree(base, tmp_path):
    community = RegionFactory(name="幸福里社区", level=Region.Level.COMMUNITY, parent=base["滨江街道"])
    rows = [
        ["江南区", "区县", "jc", "jc-jn", ""],
        ["滨江街道办", "街道乡镇", "jc-jn", base["滨江街道"].code, ""],
    ]
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    assert report.errors == []
    assert report.updated == {"street": 1}
    street = Region.objects.get(pk=base["滨江街道"].pk)
    assert street.name == "滨江街道办"
    assert street.parent.code == "jc-jn"
    community.refresh_from_db()
    assert [r.name for r in community.ancestors()] == ["江城市", "江南区", "滨江街道办", "幸福里社区"]


def test_parents_by_code_path_tail_and_unique_name(base, tmp_path):
    RegionFactory(name="江南区", code="jc-jn", parent=base["江城市"])
    other = RegionFactory(name="滨江街道", level=Region.Level.STREET, parent=Region.objects.get(code="jc-jn"))
    rows = [
        ["甲小区", "小区", "江城市/江北区/滨江街道", "", ""],  # full path
        ["乙小区", "小区", "江南区/滨江街道", "", ""],  # a tail of the path
        ["丙小区", "小区", other.code, "", ""],  # code
        ["丁小区", "小区", "江北区", "", ""],  # a unique name
    ]
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    assert report.errors == []
    regions = dict(Place.objects.values_list("name", "region_id"))
    assert regions == {
        "甲小区": base["滨江街道"].pk,
        "乙小区": other.pk,
        "丙小区": other.pk,
        "丁小区": base["江北区"].pk,
    }


def test_english_headers_and_kind_codes(tmp_path):
    rows = [["Jiangcheng", "city", "", "jc", ""], ["翠湖苑", "ESTATE", "jc", "", "翠湖"]]
    path = write_csv(tmp_path, rows, header=["name", "kind", "parent", "code", "aliases"])
    report = gazetteer_import(path=path)
    assert report.errors == []
    assert report.created == {"city": 1, "estate": 1}


def test_missing_optional_columns(tmp_path):
    report = gazetteer_import(path=write_csv(tmp_path, [["江城市", "城市"]], header=["名称", "类型"]))
    assert report.errors == [] and Region.objects.get().name == "江城市"


@pytest.mark.parametrize(
    ("rows", "row", "reason"),
    [
        ([["", "小区", "滨江街道", "", ""]], 2, "名称为空"),
        ([["长" * 101, "小区", "滨江街道", "", ""]], 2, "超过 100"),
        ([["翠湖苑", "楼盘", "滨江街道", "", ""]], 2, "未知的类型“楼盘”"),
        ([["翠湖苑", "", "滨江街道", "", ""]], 2, "类型为空"),
        ([["翠湖苑", "小区", "", "", ""]], 2, "缺少上级"),
        ([["翠湖苑", "小区", "江东区", "", ""]], 2, "找不到上级区域“江东区”"),
        ([["翠湖苑", "小区", "江城市//滨江街道", "", ""]], 2, "路径格式不对"),
        ([["翠湖苑", "小区", "望江街道", "", ""], ["望江街道", "街道", "jc-jb", "", ""]], 2, "在第 3 行"),
        (
            [["望江路", "道路", "滨江街道", "", ""], ["翠湖苑", "小区", "望江路", "", ""]],
            3,
            "是地名而不是区域",
        ),
        ([["江北区", "区县", "jc-jb", "x", ""]], 2, "区县的上级不能是区县"),
        ([["幸福里社区", "社区", "", "bad code!", ""]], 2, "编码“bad code!”无效"),
        ([["幸福里社区", "社区", "", "c" * 41, ""]], 2, "无效"),
        ([["滨/江", "社区", "滨江街道", "", ""]], 2, "不能包含“/”"),
        ([["翠湖苑", "小区", "滨江街道", "cuihu", ""]], 2, "编码只用于区域"),
        ([["翠湖苑", "小区", "滨江街道", "", "别" * 501]], 2, "别名合计超过 500"),
        (
            [["翠湖苑", "小区", "滨江街道", "", ""], ["翠湖苑", "小区", "滨江街道", "", ""]],
            3,
            "与第 2 行重复",
        ),
        (
            [["幸福里社区", "社区", "滨江街道", "", ""], ["幸福里社区", "社区", "滨江街道", "", ""]],
            3,
            "与第 2 行",
        ),
        ([["江北区", "区县", "jc", "jc-north", ""]], 2, "编码为“jc-jb”"),
        (
            [["江城市", "城市", "江城市/江北区/滨江街道", "jc", ""]],
            2,
            "不能是",
        ),  # level: a city below a street
        ([["社区甲", "社区", "区县乙", "", ""], ["区县乙", "区县", "jc", "", ""]], 2, "须排在本行之前"),
        (
            [["江南区", "区县", "jc", "JC JN", ""], ["翠湖苑", "小区", "江南区", "", ""]],
            3,
            "所在的第 2 行有错误",
        ),
    ],
)
def test_every_error_names_the_row_and_writes_nothing(base, tmp_path, rows, row, reason):
    regions, places = Region.objects.count(), Place.objects.count()
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    assert not report.applied
    assert any(r == row and reason in message for r, message in report.errors), report.errors
    assert (Region.objects.count(), Place.objects.count()) == (regions, places)


def test_a_region_cannot_move_below_itself(base, tmp_path):
    rows = [["滨江街道", "街道", "jc-jb", "", ""], ["江北区", "区县", "滨江街道", "jc-jb", ""]]
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    # 江北区 below its own street: refused as a level error and as a cycle alike
    assert [r for r, _ in report.errors] and all(r == 3 for r, _ in report.errors)
    assert Region.objects.get(code="jc-jb").parent.code == "jc"


def test_a_cycle_is_refused_even_where_the_levels_allow_it(tmp_path):
    RegionFactory(name="甲区", code="a", level=Region.Level.DISTRICT)
    RegionFactory(name="乙街道", code="b", level=Region.Level.STREET, parent=Region.objects.get(code="a"))
    rows = [["甲区", "社区", "b", "a", ""]]  # the district, as a community below its own street
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    assert report.errors == [(2, "上级不能是本区域自身或其下级")]
    assert Region.objects.get(code="a").parent is None


def test_an_ambiguous_parent_is_refused_and_a_path_resolves_it(base, tmp_path):
    other = RegionFactory(name="江南区", code="jc-jn", parent=base["江城市"])
    RegionFactory(name="滨江街道", code="jn-bj", level=Region.Level.STREET, parent=other)
    report = gazetteer_import(path=write_csv(tmp_path, [["翠湖苑", "小区", "滨江街道", "", ""]]))
    assert len(report.errors) == 1
    row, message = report.errors[0]
    assert row == 2 and "不唯一" in message
    assert "江城市/江北区/滨江街道" in message and "江城市/江南区/滨江街道" in message
    report = gazetteer_import(path=write_csv(tmp_path, [["翠湖苑", "小区", "江北区/滨江街道", "", ""]]))
    assert report.errors == [] and Place.objects.get().region == base["滨江街道"]


def test_all_or_nothing_reports_every_error(base, tmp_path):
    rows = [
        ["江南区", "区县", "jc", "jc-jn", ""],
        ["翠湖苑", "楼盘", "江南区", "", ""],
        ["望江路", "道路", "江南区", "", ""],
        ["", "小区", "", "", ""],
    ]
    report = gazetteer_import(path=write_csv(tmp_path, rows))
    assert sorted({row for row, _ in report.errors}) == [3, 5]
    assert len(report.errors) == 3  # the last row: no name and no parent
    assert report.created == {"district": 1, "road": 1}  # what the good rows would do
    assert not report.applied
    assert not Region.objects.filter(code="jc-jn").exists()
    assert not Place.objects.exists()


def test_dry_run_writes_nothing(tmp_path):
    report = gazetteer_import(path=str(EXAMPLE), dry_run=True)
    assert report.errors == [] and not report.applied
    assert sum(report.created.values()) == 11
    assert not Region.objects.exists() and not Place.objects.exists()


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_chinese_encodings(tmp_path, encoding):
    rows = [["江城市", "城市", "", "jc", ""], ["翠湖苑", "小区", "jc", "", "翠湖苑小区、翠湖花苑"]]
    path = write_csv(tmp_path, rows, encoding=encoding)
    report = gazetteer_import(path=path)
    assert report.errors == []
    assert Place.objects.get().aliases == "翠湖苑小区 翠湖花苑"


def test_big5_file_with_traditional_labels(tmp_path):
    rows = [
        ["江城市", "城市", "", "jc", ""],
        ["翠湖苑", "小區", "jc", "", ""],
        ["江北區", "區縣", "jc", "", ""],
    ]
    path = write_csv(tmp_path, rows, header=["名稱", "類型", "上級", "編碼", "別名"], encoding="big5")
    report = gazetteer_import(path=path)
    assert report.errors == []
    assert report.created == {"city": 1, "estate": 1, "district": 1}


def test_xlsx_file(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in [HEADER, *BASE_ROWS, ["翠湖苑", "小区", "滨江街道", None, None]]:
        sheet.append(row)
    path = tmp_path / "places.xlsx"
    book.save(path)
    report = gazetteer_import(path=str(path))
    assert report.errors == []
    assert report.created == {"city": 1, "district": 1, "street": 1, "estate": 1}


def test_file_errors(tmp_path):
    with pytest.raises(GazetteerFileError, match="缺少列"):
        gazetteer_import(path=write_csv(tmp_path, [["江城市"]], header=["名称", "说明"]))
    binary = tmp_path / "x.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(GazetteerFileError, match="无法读取文件"):
        gazetteer_import(path=str(binary))
    with pytest.raises(GazetteerFileError, match="无法读取文件"):
        gazetteer_import(path=str(tmp_path / "missing.csv"))
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(GazetteerFileError):
        gazetteer_import(path=str(broken))
    assert not Region.objects.exists()


# --- the command ------------------------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("routing_import_gazetteer", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_and_prints_counts():
    out, _err = run(str(EXAMPLE), "--dry-run")
    assert "created: " in out and "community 2" in out and "dry run" in out
    assert not Region.objects.exists()
    out, _err = run(str(EXAMPLE))
    assert "estate 1" in out and "dry run" not in out
    assert Region.objects.count() == 5
    out, _err = run(str(EXAMPLE))
    assert "unchanged: 11" in out


def test_command_exits_2_on_bad_rows_listing_at_most_50(tmp_path):
    rows = [["江城市", "城市", "", "jc", ""]] + [[f"小区{i}", "楼盘", "jc", "", ""] for i in range(60)]
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("routing_import_gazetteer", write_csv(tmp_path, rows), stdout=out, stderr=err)
    assert info.value.returncode == 2
    assert "60 error(s)" in str(info.value)
    lines = err.getvalue().splitlines()
    assert len([line for line in lines if ": row " in line]) == 50
    assert "row 3: " in lines[0]
    assert "and 10 more" in lines[-1]
    assert not Region.objects.exists()


def test_command_exits_2_on_an_unreadable_file(tmp_path):
    binary = tmp_path / "x.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CommandError) as info:
        run(str(binary))
    assert info.value.returncode == 2 and str(binary) in str(info.value)
    with pytest.raises(CommandError) as info:
        run(str(EXAMPLE), "--encoding", "no-such-encoding")
    assert info.value.returncode == 2


def test_command_honours_the_encoding(tmp_path):
    path = write_csv(tmp_path, [["江城市", "城市", "", "jc", ""]], encoding="gb18030")
    out, _err = run(path, "--encoding", "gb18030")
    assert "city 1" in out


# --- the admin ----------------------------------------------------------------------------------------------

IMPORT_URL = "admin:routing_place_import"


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


def upload(client, content: bytes, *, name="places.csv", encoding=""):
    file = io.BytesIO(content)
    file.name = name
    return client.post(reverse(IMPORT_URL), {"file": file, "encoding": encoding})


def stored_name(response) -> str:
    found = re.search(r'name="stored" value="([^"]+)"', response.content.decode())
    assert found, response.content.decode()[:3000]
    return found.group(1)


def test_changelist_has_the_import_button(admin_client):
    html = admin_client.get(reverse("admin:routing_place_changelist")).content.decode()
    assert reverse(IMPORT_URL) in html and "从 CSV 导入" in html


def test_admin_import_upload_report_confirm(admin_client):
    regions = Region.objects.count()  # the org fixture's two regions, codes jc and jc-jb
    page = admin_client.get(reverse(IMPORT_URL))
    assert page.status_code == 200 and 'type="file"' in page.content.decode()

    content = EXAMPLE.read_bytes()
    response = upload(admin_client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert "检查通过" in html and "社区村" in html
    name = stored_name(response)
    assert name == f"gazetteer/{hashlib.sha256(content).hexdigest()}.csv"
    assert default_storage.exists(name)
    assert Region.objects.count() == regions and not Place.objects.exists()  # the check wrote nothing

    response = admin_client.post(reverse(IMPORT_URL), {"stored": name, "encoding": "", "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:routing_place_changelist")
    assert Place.objects.count() == 6
    assert Region.objects.get(code="jc-jb-bj").parent.code == "jc-jb"  # the fixture's 江北区, matched by code
    assert not default_storage.exists(name)
    listing = admin_client.get(response["Location"]).content.decode()
    assert "地名库已导入" in listing and "翠湖苑" in listing


def test_admin_import_shows_errors_and_offers_no_confirmation(admin_client):
    content = "名称,类型,上级\n翠湖苑,楼盘,江北区\n望江路,道路,江东区\n".encode()
    response = upload(admin_client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert "未导入任何数据" in html and "未知的类型“楼盘”" in html and "找不到上级区域“江东区”" in html
    assert 'name="stored"' not in html
    assert not Place.objects.exists()


def test_admin_import_of_an_unreadable_file(admin_client):
    response = upload(admin_client, b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)), name="x.png")
    assert response.status_code == 400
    assert "无法读取文件" in response.content.decode()


def test_admin_import_with_an_xlsx_upload(admin_client):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(HEADER)
    book.active.append(["翠湖苑", "小区", "jc-jb", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(admin_client, buffer.getvalue(), name="places.xlsx")
    name = stored_name(response)
    assert name.endswith(".xlsx")
    response = admin_client.post(reverse(IMPORT_URL), {"stored": name, "confirm": "1"})
    assert response.status_code == 302
    assert Place.objects.get().region.code == "jc-jb"


@pytest.mark.parametrize(
    "stored",
    [
        "../../settings.py",
        "gazetteer/../../db.sqlite3",
        "gazetteer/abc.csv",
        "gazetteer/" + "0" * 64 + ".csv",  # well-formed, but no such upload
        "gazetteer/" + "0" * 64 + ".py",
    ],
)
def test_admin_confirm_refuses_a_forged_file_name(admin_client, stored):
    response = admin_client.post(reverse(IMPORT_URL), {"stored": stored, "confirm": "1"})
    assert response.status_code == 400
    assert "重新上传" in response.content.decode()
    assert not Place.objects.exists()


def test_admin_confirm_refuses_a_stored_file_whose_content_changed(admin_client):
    response = upload(admin_client, "名称,类型,上级\n翠湖苑,小区,jc-jb\n".encode())
    name = stored_name(response)
    default_storage.delete(name)
    default_storage.save(name, io.BytesIO("名称,类型,上级\n别处,小区,jc-jb\n".encode()))
    response = admin_client.post(reverse(IMPORT_URL), {"stored": name, "confirm": "1"})
    assert response.status_code == 400
    assert not Place.objects.exists()
    default_storage.delete(name)


def test_unconfirmed_uploads_are_purged_later(admin_client, monkeypatch):
    from minyi.routing import admin as routing_admin

    first = stored_name(upload(admin_client, "名称,类型,上级\n甲小区,小区,jc-jb\n".encode()))
    second = stored_name(upload(admin_client, "名称,类型,上级\n乙小区,小区,jc-jb\n".encode()))
    assert default_storage.exists(first) and default_storage.exists(second)  # a day has not passed
    monkeypatch.setattr(routing_admin, "GAZETTEER_UPLOAD_KEEP", timedelta(seconds=-1))  # now it has
    third = stored_name(upload(admin_client, "名称,类型,上级\n丙小区,小区,jc-jb\n".encode()))
    assert not default_storage.exists(first) and not default_storage.exists(second)
    assert default_storage.exists(third)
    default_storage.delete(third)


@pytest.fixture
def staff(org):
    user = UserFactory(username="place_clerk", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_place"), Permission.objects.get(codename="add_place")
    )
    return user


def test_staff_without_the_import_permissions_gets_403(client, staff):
    client.force_login(staff)
    html = client.get(reverse("admin:routing_place_changelist")).content.decode()
    assert "从 CSV 导入" not in html
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    response = upload(client, EXAMPLE.read_bytes())
    assert response.status_code == 403
    assert not Place.objects.exists()


def test_staff_with_the_import_permissions_may_import(client, staff):
    for codename in ("change_place", "add_region", "change_region"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff)
    assert client.get(reverse(IMPORT_URL)).status_code == 200


def test_non_staff_are_sent_to_the_login(client, org):
    client.force_login(org.citizen)
    response = client.get(reverse(IMPORT_URL))
    assert response.status_code == 302 and "login" in response["Location"]


def test_routing_pages_render(admin_client, org):
    from minyi.routing.models import RoutingHistory, RoutingRule

    rule = RoutingRule.objects.create(category=org.category, region=org.region, department=org.dept_a)
    history = RoutingHistory.objects.create(
        category=org.category,
        region=None,
        department=org.dept_a,
        cases=3,
        updated_at="2026-03-01T00:00+08:00",
    )
    Place.objects.create(name="翠湖苑", region=org.region)
    for view, args in [
        ("admin:routing_routingrule_changelist", ()),
        ("admin:routing_routingrule_change", (rule.pk,)),
        ("admin:routing_routingrule_add", ()),
        ("admin:routing_place_changelist", ()),
        ("admin:routing_place_add", ()),
        ("admin:routing_routinghistory_changelist", ()),
        ("admin:routing_routinghistory_change", (history.pk,)),
        ("admin:accounts_region_change", (org.region.pk,)),
    ]:
        assert admin_client.get(reverse(view, args=args)).status_code == 200, view
    assert admin_client.get(reverse("admin:routing_routinghistory_add")).status_code == 403
    # regions are searched by alias too
    Region.objects.filter(pk=org.region.pk).update(aliases="江北片区")
    html = admin_client.get(reverse("admin:accounts_region_changelist") + "?q=江北片区").content.decode()
    assert "jc-jb" in html


def test_routing_rule_list_edits_department_and_active(admin_client, org):
    from minyi.routing.models import RoutingRule

    rule = RoutingRule.objects.create(category=org.category, region=None, department=org.dept_a)
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(rule.pk),
        "form-0-department": str(org.dept_b.pk),
        "_save": "保存",
    }  # is_active left out: unticked
    response = admin_client.post(reverse("admin:routing_routingrule_changelist"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.department, rule.is_active) == (org.dept_b, False)
