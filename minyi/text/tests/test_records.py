"""Recognising the columns of hotline exports, mappings, and rows turned into records."""

from __future__ import annotations

import json
from pathlib import Path

import opencc
import pytest

from minyi.text.records import (
    FIELDS,
    FieldMap,
    Mapping,
    column_key,
    load_mapping,
    mapping_from_dict,
    record_of,
    resolve_fields,
)
from minyi.text.tabular import TableError

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "import-mapping.example.toml"

# the names the brief for this module lists, field by field ("name" left out on purpose)
BRIEF = {
    "external_id": "留言编号 工单编号 工单号 受理编号 编号 信件编号 id ticket_id tracking_number external_number",
    "title": "留言主题 诉求标题 标题 主题 事项 title subject",
    "content": "留言详情 诉求内容 来电内容 问题描述 内容 详情 正文 detail details content body text description",
    "time": "留言时间 来电时间 受理时间 提交时间 登记时间 创建时间 时间 日期 time date created_at submitted_at",
    "category": "一级分类 一级标签 诉求分类 分类 类别 标签 label category",
    "subcategory": "二级分类 二级标签 subcategory",
    "department": "承办单位 承办部门 处理部门 责任单位 办理单位 department",
    "region": "区域 区县 所属区县 所属区域 region district",
    "address": "地址 事发地址 事发地点 详细地址 address",
    "kind": "诉求类型 来电类型 类型 kind",
    "channel": "来源 渠道 来源渠道 channel",
    "status": "状态 办理状态 工单状态 status",
    "priority": "紧急程度 优先级 priority",
    "reply": "答复意见 答复内容 回复内容 处理结果 办理结果 reply",
    "reply_time": "答复时间 回复时间 reply_time replied_at",
    "closed_time": "办结时间 结案时间 closed_at",
    "contact_name": "姓名 来电人 联系人 诉求人 contact_name",
    "contact_phone": "联系电话 来电号码 电话 手机 手机号码 contact_phone phone",
    "contact_email": "邮箱 电子邮件 email contact_email",
    "user": "留言用户 用户 用户编号 网民 user user_id",
    "satisfaction": "满意度 评价 评价结果 回访结果 satisfaction rating",
    "resolved": "是否解决 解决情况 resolved",
    "supports": "点赞数 支持数 likes supports",
    "opposes": "反对数 opposes",
}


# --- FIELDS and names ----------------------------------------------------------------------


def test_every_listed_name_is_recognised_as_its_field():
    assert set(BRIEF) == set(FIELDS)
    for name, names in BRIEF.items():
        for column in names.split():
            fields = resolve_fields(["内容", column] if name != "content" else [column])
            assert column in {fields.header[i] for i in fields.indices.get(name, ())}, (name, column)


def test_no_name_belongs_to_two_fields():
    owner: dict[str, str] = {}
    for name, names in FIELDS.items():
        for column in names:
            key = column_key(column)
            assert owner.setdefault(key, name) == name, (column, owner[key], name)


def test_every_simplified_name_has_its_traditional_form():
    convert = opencc.OpenCC("s2t").convert
    for name, names in FIELDS.items():
        for column in names:
            if not column.isascii():
                assert convert(column) in names, (name, column, convert(column))


@pytest.mark.parametrize("ambiguous", ["name", "Name", "contact", "source", "序号"])
def test_ambiguous_names_are_not_recognised(ambiguous):
    fields = resolve_fields(["内容", ambiguous])
    assert list(fields.indices) == ["content"]
    assert fields.unused == (ambiguous,)


def test_column_key_ignores_spaces_case_bom_width_and_separators():
    assert column_key("\ufeff留言 主题 ") == column_key("留言主题")
    assert column_key("ＴＩＴＬＥ") == column_key("Title") == "title"
    assert column_key("Created At") == column_key("created_at") == column_key("CREATED-AT")
    assert column_key("＊诉求内容") == column_key("*诉求内容") == column_key("诉求内容")
    assert column_key("留言\u200b主题") == "留言主题"
    assert column_key("留言主题") != column_key("留言主題")  # traditional forms are listed, not folded


# --- resolve_fields ------------------------------------------------------------------------


def test_recognises_a_message_board_export():
    header = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "反对数", "点赞数"]
    fields = resolve_fields(header)
    assert fields.describe() == [
        ("external_id", "留言编号"),
        ("title", "留言主题"),
        ("content", "留言详情"),
        ("time", "留言时间"),
        ("user", "留言用户"),
        ("supports", "点赞数"),
        ("opposes", "反对数"),
    ]
    assert fields.unused == () and fields.header == tuple(header)


def test_recognises_a_hotline_export_in_traditional_characters_and_odd_spacing():
    header = ["工單編號", " 來電時間 ", "訴求內容", "承辦單位", "聯繫電話", "辦結時間", "備註"]
    fields = resolve_fields(header)
    assert {name: header[idx[0]] for name, idx in fields.indices.items()} == {
        "external_id": "工單編號",
        "time": " 來電時間 ",
        "content": "訴求內容",
        "department": "承辦單位",
        "contact_phone": "聯繫電話",
        "closed_time": "辦結時間",
    }
    assert fields.unused == ("備註",)


def test_the_first_name_in_preference_order_wins_and_the_rest_is_unused():
    fields = resolve_fields(["内容", "留言详情", "时间", "答复时间", "留言时间"])
    assert fields.indices["content"] == (1,)  # 留言详情 before 内容
    assert fields.indices["time"] == (4,)  # 留言时间 before 时间
    assert fields.indices["reply_time"] == (3,)
    assert fields.unused == ("内容", "时间")


def test_a_duplicate_header_name_is_used_once():
    fields = resolve_fields(["标题", "内容", "内容"])
    assert fields.indices == {"title": (0,), "content": (1,)}
    assert fields.unused == ("内容",)


def test_mapping_columns_come_first_and_a_column_serves_one_field():
    mapping = Mapping(columns={"content": ("标题", "补充"), "title": ("事项",)})
    fields = resolve_fields(["标题", "补充", "事项", "详情"], mapping)
    assert fields.indices["content"] == (0, 1)
    assert fields.indices["title"] == (2,)
    # 详情 is a content name, but content is mapped: the column is left unused
    assert fields.unused == ("详情",)
    assert ("content", "标题 + 补充") in fields.describe()


def test_mapped_names_are_compared_like_recognised_ones():
    fields = resolve_fields(["Ticket No", "BODY"], Mapping(columns={"external_id": ("ticket_no",)}))
    assert fields.indices == {"external_id": (0,), "content": (1,)}


def test_a_mapped_column_missing_from_the_header_is_named():
    with pytest.raises(TableError) as info:
        resolve_fields(["标题", "内容"], Mapping(columns={"content": ("正文",)}), path="x.csv")
    message = str(info.value)
    assert message.startswith("x.csv: ") and "'正文'" in message and "columns.content" in message
    assert "'标题', '内容'" in message


def test_no_text_column_is_an_error_that_says_how_to_map_one():
    with pytest.raises(TableError) as info:
        resolve_fields(["编号", "时间", "备注"], path="export.xlsx")
    assert str(info.value) == (
        "export.xlsx: no text column (title or content) found; columns found: '编号', '时间', '备注'; "
        'map them in a mapping file [columns] title = "..."'
    )


def test_ignored_columns_are_not_recognised_and_listed_apart():
    fields = resolve_fields(["编号", "工单号", "内容", "备注"], Mapping(ignore=("编号",)))
    assert fields.indices["external_id"] == (1,)
    assert fields.ignored == ("编号",) and fields.unused == ("备注",)
    assert resolve_fields(["编号", "工单号", "内容"]).indices["external_id"] == (
        1,
    )  # 工单号 preferred anyway
    assert resolve_fields(["编号", "内容"], Mapping(ignore=(" 编号",))).indices == {"content": (1,)}


def test_an_unknown_field_in_a_mapping_built_in_code_is_refused():
    with pytest.raises(TableError, match=r"columns\.titel: unknown field.*'title'"):
        resolve_fields(["内容"], Mapping(columns={"titel": ("内容",)}))


# --- record_of ---------------------------------------------------------------------------


def test_record_strips_joins_translates_and_defaults():
    mapping = Mapping(
        columns={"content": ("诉求内容", "补充说明"), "time": ("来电日期", "来电时刻")},
        values={"status": {"已办结": "closed", " Open ": "open"}},
        defaults={"channel": "12345热线", "region": "岳麓区"},
    )
    header = ["工单号", "诉求内容", "补充说明", "来电日期", "来电时刻", "状态", "区县"]
    fields = resolve_fields(header, mapping)
    record = record_of(
        ["  A-1 ", "\n\t楼下噪音\u3000", " 每晚都有 ", "2019/4/16", "22:05:13", " 已办结 ", ""], fields
    )
    assert record == {
        "external_id": "A-1",
        "content": "楼下噪音\n每晚都有",
        "time": "2019/4/16 22:05:13",
        "region": "岳麓区",  # empty cell -> default
        "channel": "12345热线",  # no column -> default
        "status": "closed",
    }
    assert record_of(["2", "内容", "", "", "", "OPEN", "雨花区"], fields)["status"] == "open"
    assert record_of(["3", "内容", "", "", "", "转办", "雨花区"], fields)["status"] == "转办"  # kept
    assert record_of(["4", "", "  ", "", "", "", "雨花区"], fields)["content"] == ""


def test_record_uses_the_mapping_of_resolve_fields_unless_given_another():
    header = ["内容", "状态"]
    mapping = Mapping(values={"status": {"1": "open"}}, defaults={"status": "unknown"})
    fields = resolve_fields(header, mapping)
    assert record_of(["x", "1"], fields) == {"content": "x", "status": "open"}
    assert record_of(["x", ""], fields)["status"] == "unknown"
    other = Mapping(values={"status": {"1": "closed"}})
    assert record_of(["x", "1"], fields, other)["status"] == "closed"
    assert record_of(["x", "1"], resolve_fields(header))["status"] == "1"


def test_record_of_a_short_row_gives_empty_values():
    fields = resolve_fields(["标题", "内容", "状态"])
    assert record_of(["只有标题"], fields) == {"title": "只有标题", "content": "", "status": ""}


def test_field_map_can_be_built_by_hand():
    fields = FieldMap(indices={"content": (1,)}, header=("x", "正文"), unused=("x",))
    assert record_of(["a", " b "], fields) == {"content": "b"}
    assert fields.describe() == [("content", "正文")]


# --- mappings ----------------------------------------------------------------------------


def test_the_example_mapping_loads_and_sets_every_key():
    mapping = load_mapping(EXAMPLE)
    assert mapping.source and mapping.encoding and mapping.sheet and mapping.date_formats
    assert mapping.columns["content"] == ("诉求内容", "补充说明")
    assert mapping.values["status"]["已办结"] == "closed"
    assert mapping.defaults and mapping.ignore
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in (
        "source",
        "encoding",
        "sheet",
        "date_formats",
        "day_first",
        "columns",
        "values",
        "defaults",
        "ignore",
    ):
        assert f"{key} =" in text or f"[{key}" in text, key
    for name in FIELDS:
        assert name in text, name


def test_mapping_from_dict_accepts_the_json_of_the_web_ui():
    data = {
        "source": "hotline",
        "columns": {"title": "主题", "content": ["内容", "补充"]},
        "values": {"status": {"是": "yes"}},
        "defaults": {"channel": "web"},
        "ignore": ["序号"],
        "day_first": True,
        "date_formats": ["%d/%m/%Y"],
    }
    mapping = mapping_from_dict(json.loads(json.dumps(data, ensure_ascii=False)))
    assert mapping == Mapping(
        source="hotline",
        columns={"title": ("主题",), "content": ("内容", "补充")},
        values={"status": {"是": "yes"}},
        defaults={"channel": "web"},
        ignore=("序号",),
        day_first=True,
        date_formats=("%d/%m/%Y",),
    )
    assert mapping_from_dict({}) == Mapping()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colums": {}}, r"unknown key 'colums' \(did you mean 'columns'\?"),
        ({"columns": {"titel": "主题"}}, r"columns\.titel: unknown field \(did you mean 'title'\?"),
        ({"values": {"stat": {}}}, r"values\.stat: unknown field"),
        ({"defaults": {"nope": "x"}}, r"defaults\.nope: unknown field"),
        ({"columns": {"title": 3}}, r"columns\.title must be a column name or a list"),
        ({"columns": {"title": []}}, r"columns\.title: an empty list"),
        ({"columns": {"title": ["a", ""]}}, r"columns\.title must be"),
        ({"columns": ["title"]}, r"columns must be a table"),
        ({"values": {"status": ["a"]}}, r"values\.status must be a table"),
        ({"values": {"status": {"a": 1}}}, r"values\.status\.'a' must be a string"),
        ({"defaults": {"channel": 1}}, r"defaults\.channel must be a string"),
        ({"day_first": "yes"}, r"day_first must be true or false"),
        ({"day_first": 1}, r"day_first must be true or false"),
        ({"source": ""}, r"source must be a non-empty string"),
        ({"sheet": 2}, r"sheet must be a non-empty string"),
        ({"encoding": "klingon"}, r"encoding: unknown encoding 'klingon'"),
        ({"date_formats": "%Y"}, r"date_formats must be a list of strings"),
        ({"date_formats": ["%Y-%Q"]}, r"date_formats\[0\]: '%Y-%Q': .*bad directive"),
        ({"date_formats": ["YYYY-MM-DD"]}, r"date_formats\[0\]: 'YYYY-MM-DD' is not a strptime format"),
        ({"ignore": "序号"}, r"ignore must be a list of strings"),
        (
            {"columns": {"title": "序号"}, "ignore": ["序号"]},
            r"'序号' is both in columns\.title and in ignore",
        ),
        ({"columns": {"title": "主题", "content": " 主题"}}, r"'主题' is mapped to two fields"),
    ],
)
def test_mapping_errors_name_the_origin_and_the_key(data, message):
    with pytest.raises(TableError, match=message) as info:
        mapping_from_dict(data, origin="job 7")
    assert str(info.value).startswith("job 7: ")


def test_load_mapping_errors_name_the_file(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[columns]\ntitle = "主题"\n[extra]\n', encoding="utf-8")
    with pytest.raises(TableError, match=r"map\.toml: unknown key 'extra'"):
        load_mapping(path)
    path.write_text('[columns\ntitle = "主题"\n', encoding="utf-8")
    with pytest.raises(TableError, match=r"map\.toml: not valid TOML \(.*line 1"):
        load_mapping(path)
    path.write_bytes('[columns]\ntitle = "主题"\n'.encode("gb18030"))
    with pytest.raises(TableError, match=r"map\.toml: a mapping file must be UTF-8"):
        load_mapping(path)
    with pytest.raises(TableError, match=r"missing\.toml: cannot open"):
        load_mapping(tmp_path / "missing.toml")
    path.write_bytes('\ufeff[columns]\ncontent = "正文"\n'.encode())
    assert load_mapping(path).columns == {"content": ("正文",)}


# --- real data ---------------------------------------------------------------------------


@pytest.mark.data
def test_the_shared_exports_are_recognised_and_every_row_has_text(shared_data):
    from minyi.text.tabular import read_table

    expected = {
        "hot_messages.csv": {"external_id", "user", "title", "time", "content", "supports", "opposes"},
        "appeals_with_replies.csv": {
            "external_id",
            "user",
            "title",
            "time",
            "content",
            "reply",
            "reply_time",
        },
        "appeals_unlabeled.csv": {"external_id", "user", "title", "time", "content", "category"},
        "appeals_labeled.csv": {"external_id", "user", "title", "time", "content", "category"},
    }
    for name, wanted in expected.items():
        with read_table(shared_data / name) as table:
            fields = resolve_fields(table.header, path=name)
            assert set(fields.indices) == wanted, name
            rows = 0
            for _, values in table.rows:
                record = record_of(values, fields)
                assert record["title"] or record["content"], (name, values[:2])
                assert record["content"] == record["content"].strip()
                rows += 1
            assert rows > 2000, name
