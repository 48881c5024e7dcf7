"""Import the gazetteer (regions and places) from a CSV or XLSX file that admins maintain.

One row per region (城市/区县/街道乡镇/社区村) or place (小区/道路/地标/单位企业/学校/医院/市场商场/其他), in
file order, so that a parent comes before its children. docs/gazetteer.md describes the columns.

Every row is validated before anything is written, and the import is all-or-nothing: one bad row and nothing
is written; the report lists every error with its row number. Re-importing the same file changes nothing
(every row counts as unchanged).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from minyi.accounts.models import Region
from minyi.core.exceptions import Conflict, ValidationFailed
from minyi.routing.models import Place
from minyi.routing.services import gazetteer_changed, split_aliases
from minyi.text.normalize import strip_invisible
from minyi.text.tabular import TableError, read_table

__all__ = ["GazetteerFileError", "GazetteerReport", "gazetteer_import"]

NAME_MAX = 100
ALIASES_MAX = 500
CODE_MAX = 40
CODE_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
GENERATED_CODE_PREFIX = "gz-"

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "name", "地名", "名稱"),
    "kind": ("类型", "kind", "類型"),
    "parent": ("上级", "parent", "上級"),
    "code": ("编码", "code", "編碼"),
    "aliases": ("别名", "aliases", "alias", "別名"),
}
REQUIRED_COLUMNS = ("name", "kind")

#: Region levels, from the top; a region's parent must be of a higher level.
REGION_LEVELS = tuple(Region.Level.values)
_LEVEL_RANK = {level: rank for rank, level in enumerate(REGION_LEVELS)}
PLACE_KINDS = tuple(Place.Kind.values)

# The labels of docs/gazetteer.md, the codes, short forms, and the traditional characters of Big5 exports.
_KIND_LABELS: dict[str, tuple[str, ...]] = {
    "province": ("省",),
    "city": ("城市", "市"),
    "district": ("区县", "区", "县", "區縣", "區", "縣"),
    "street": ("街道乡镇", "街道", "乡镇", "镇", "乡", "街道鄉鎮", "鄉鎮", "鎮", "鄉"),
    "community": ("社区村", "社区", "村", "社區村", "社區"),
    "estate": ("小区", "小區"),
    "road": ("道路",),
    "landmark": ("地标", "地標"),
    "company": ("单位企业", "单位", "企业", "單位企業", "單位", "企業"),
    "school": ("学校", "學校"),
    "hospital": ("医院", "醫院"),
    "market": ("市场商场", "市场", "商场", "市場商場", "市場", "商場"),
    "other": ("其他",),
}
KIND_ALIASES: dict[str, str] = {kind: kind for kind in (*REGION_LEVELS, *PLACE_KINDS)}
KIND_ALIASES.update({label: kind for kind, labels in _KIND_LABELS.items() for label in labels})


class GazetteerFileError(ValidationFailed):
    """The file cannot be read as a table, or lacks a required column (nothing was written)."""

    code = "gazetteer_file"


class GazetteerConflict(Conflict):
    """The database changed while the import was being written (nothing was written)."""

    code = "gazetteer_conflict"


@dataclass
class GazetteerReport:
    """What an import did (or, for a dry run or a file with errors, would do).

    `created` and `updated` count rows by kind (a region level or a place kind); `unchanged` counts rows
    that matched an existing entry exactly. `errors` lists (row number, reason), the header being row 1.
    `applied` is True when the rows were written.
    """

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


# --- the plan: the region tree as it will be after each row -----------------------------------------------


@dataclass
class _Node:
    """A region as the import sees it: an existing row (`pk`) or one a row of the file creates."""

    key: str
    name: str
    code: str
    level: str
    parent: str | None
    aliases: str
    pk: int | None = None
    row: int | None = None  # the row of the file that created or changed it


@dataclass
class _Op:
    action: str  # region_create, region_update, place_create, place_update
    key: str  # the region's key (the place's region for place_create)
    values: dict[str, object]
    place_pk: int | None = None


def _norm_header(name: str) -> str:
    return "".join(str(name).split()).lstrip("\ufeff").casefold()


def _clean(value: str) -> str:
    return " ".join(strip_invisible(value or "").split())


def _join_aliases(value: str) -> str:
    return " ".join(split_aliases(value))


class _Planner:
    def __init__(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        self.rows = rows
        self.report = GazetteerReport()
        self.ops: list[_Op] = []
        self.nodes: dict[str, _Node] = {}
        self.by_code: dict[str, str] = {}
        self.by_name: dict[str, set[str]] = {}
        self.children: dict[tuple[str | None, str], list[str]] = {}
        for pk, name, code, level, parent_id, aliases in Region.objects.values_list(
            "pk", "name", "code", "level", "parent_id", "aliases"
        ):
            self._add(
                _Node(
                    key=f"e{pk}",
                    name=name,
                    code=code,
                    level=level,
                    parent=f"e{parent_id}" if parent_id else None,
                    aliases=aliases,
                    pk=pk,
                )
            )
        self.places: dict[tuple[int, str], tuple[int, str, str]] = {
            (region_id, name): (pk, kind, aliases)
            for pk, region_id, name, kind, aliases in Place.objects.values_list(
                "pk", "region_id", "name", "kind", "aliases"
            )
        }
        self.planned_places: dict[tuple[str, str], int] = {}  # (region key, name) -> row
        self.error_rows: set[int] = set()
        self.place_names: dict[str, int] = {}  # names of places in the file -> first row
        # where each region name and code is defined in the file, for "the parent comes later" errors
        self.region_rows_by_name: dict[str, list[int]] = {}
        self.region_rows_by_code: dict[str, int] = {}
        for number, values in rows:
            if KIND_ALIASES.get(values["kind"].casefold()) in _LEVEL_RANK:
                self.region_rows_by_name.setdefault(values["name"], []).append(number)
                if values["code"]:
                    self.region_rows_by_code.setdefault(values["code"], number)

    # indexes ----------------------------------------------------------------------------------------

    def _add(self, node: _Node) -> None:
        self.nodes[node.key] = node
        self.by_code[node.code] = node.key
        self.by_name.setdefault(node.name, set()).add(node.key)
        self.children.setdefault((node.parent, node.name), []).append(node.key)

    def _move(self, node: _Node, *, name: str, parent: str | None) -> None:
        self.by_name[node.name].discard(node.key)
        self.children[(node.parent, node.name)].remove(node.key)
        node.name, node.parent = name, parent
        self.by_name.setdefault(name, set()).add(node.key)
        self.children.setdefault((parent, name), []).append(node.key)

    def names_path(self, key: str) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        node: str | None = key
        while node is not None and node not in seen:
            seen.add(node)
            names.append(self.nodes[node].name)
            node = self.nodes[node].parent
        return names[::-1]

    def _show(self, key: str) -> str:
        return "/".join(self.names_path(key))

    def _is_within(self, key: str | None, ancestor: str) -> bool:
        seen: set[str] = set()
        while key is not None and key not in seen:
            if key == ancestor:
                return True
            seen.add(key)
            key = self.nodes[key].parent
        return False

    # parents ----------------------------------------------------------------------------------------

    def resolve_parent(self, value: str, row: int) -> tuple[str | None, str | None]:
        """(region key, None) or (None, the reason it does not resolve)."""
        if value in self.by_code:
            return self.by_code[value], None
        segments = [part.strip() for part in value.split("/")]
        if not all(segments):
            return None, _("上级“%(parent)s”的路径格式不对：应以“/”连接各级名称") % {"parent": value}
        found = [
            key
            for key in self.by_name.get(segments[-1], ())
            if self.names_path(key)[-len(segments) :] == segments
        ]
        if len(found) > 1:
            exact = [key for key in found if len(self.names_path(key)) == len(segments)]
            found = exact or found
        if len(found) == 1:
            return found[0], None
        if found:
            shown = "、".join(sorted(self._show(key) for key in found)[:3])
            return None, _("上级“%(parent)s”不唯一（%(matches)s），请写出完整路径或区域编码") % {
                "parent": value,
                "matches": shown,
            }
        defined = {
            n
            for n in (self.region_rows_by_code.get(value), *self.region_rows_by_name.get(segments[-1], ()))
            if n is not None and n != row
        }
        refused = sorted(n for n in defined if n < row and n in self.error_rows)
        if refused:  # the row that would define the parent came first but was refused
            return None, _("上级“%(parent)s”所在的第 %(row)s 行有错误") % {
                "parent": value,
                "row": refused[-1],
            }
        later = sorted(n for n in defined if n > row)
        if later:
            return None, _("上级“%(parent)s”在第 %(row)s 行，须排在本行之前") % {
                "parent": value,
                "row": later[0],
            }
        if self._is_place(segments[-1]):
            return None, _("上级“%(parent)s”是地名而不是区域：上级须是城市、区县、街道乡镇或社区村") % {
                "parent": value
            }
        return None, _("找不到上级区域“%(parent)s”（可写区域编码、名称或“市/区/街道”路径）") % {
            "parent": value
        }

    def _is_place(self, name: str) -> bool:
        return name in self.place_names or Place.objects.filter(name=name).exists()

    # rows -------------------------------------------------------------------------------------------

    def run(self) -> GazetteerReport:
        for number, values in self.rows:
            self.plan_row(number, values)
        return self.report

    def plan_row(self, row: int, values: dict[str, str]) -> None:
        errors: list[str] = []
        name, parent_value, code = values["name"], values["parent"], values["code"]
        aliases = _join_aliases(values["aliases"])
        if not name:
            errors.append(_("名称为空"))
        elif len(name) > NAME_MAX:
            errors.append(_("名称超过 %(n)s 个字") % {"n": NAME_MAX})
        if len(aliases) > ALIASES_MAX:
            errors.append(_("别名合计超过 %(n)s 个字") % {"n": ALIASES_MAX})
        kind = KIND_ALIASES.get(values["kind"].casefold())
        if kind is None:
            if values["kind"]:
                errors.append(
                    _(
                        "未知的类型“%(kind)s”（可用：城市、区县、街道乡镇、社区村、小区、道路、地标、单位企业、学校、医院、市场商场、其他）"
                    )
                    % {"kind": values["kind"]}
                )
            else:
                errors.append(_("类型为空"))
        parent: str | None = None
        if parent_value:
            parent, problem = self.resolve_parent(parent_value, row)
            if problem:
                errors.append(problem)
        if kind in _LEVEL_RANK:
            self._plan_region(row, errors, name=name, kind=kind, parent=parent, code=code, aliases=aliases)
        elif kind is not None:
            self._plan_place(row, errors, name=name, kind=kind, parent=parent, code=code, aliases=aliases)
            if parent_value == "":
                errors.append(_("缺少上级：地名须写明所在区域"))
        if errors:
            self.error_rows.add(row)
            self.report.errors.extend((row, message) for message in errors)

    def _plan_region(
        self,
        row: int,
        errors: list[str],
        *,
        name: str,
        kind: str,
        parent: str | None,
        code: str,
        aliases: str,
    ) -> None:
        if "/" in name:
            errors.append(_("区域名称不能包含“/”"))
        if code and (len(code) > CODE_MAX or not CODE_RE.match(code)):
            errors.append(
                _("编码“%(code)s”无效：只能用字母、数字、“-”和“_”，至多 %(n)s 位")
                % {"code": code, "n": CODE_MAX}
            )
        if parent is not None and _LEVEL_RANK[self.nodes[parent].level] >= _LEVEL_RANK[kind]:
            errors.append(
                _("%(level)s的上级不能是%(parent_level)s“%(parent)s”")
                % {
                    "level": Region.Level(kind).label,
                    "parent_level": Region.Level(self.nodes[parent].level).label,
                    "parent": self._show(parent),
                }
            )
        if errors:
            return
        match: str | None = None
        if code and code in self.by_code:
            match = self.by_code[code]
        else:
            same = self.children.get((parent, name), [])
            if len(same) > 1:
                errors.append(_("同一上级下已有多个名为“%(name)s”的区域，请用编码指明") % {"name": name})
                return
            if same:
                match = same[0]
                if code and self.nodes[match].code != code:
                    errors.append(
                        _("“%(path)s”已存在，编码为“%(existing)s”，与本行的编码“%(code)s”不同")
                        % {"path": self._show(match), "existing": self.nodes[match].code, "code": code}
                    )
                    return
        if match is not None:
            node = self.nodes[match]
            if node.row is not None:
                errors.append(_("与第 %(row)s 行是同一个区域（重复）") % {"row": node.row})
                return
            if self._is_within(parent, match):
                errors.append(_("上级不能是本区域自身或其下级"))
                return
            node.row = row
            changed = {
                field_name: value
                for field_name, value in (
                    ("name", name),
                    ("level", kind),
                    ("parent", parent),
                    ("aliases", aliases),
                )
                if getattr(node, field_name) != value
            }
            if not changed:
                self.report.unchanged += 1
                return
            self._move(node, name=name, parent=parent)
            node.level, node.aliases = kind, aliases
            self.ops.append(_Op("region_update", match, {"name": name, "level": kind, "aliases": aliases}))
            self.report.updated[kind] = self.report.updated.get(kind, 0) + 1
            return
        if not code:
            path = [*(self.names_path(parent) if parent else []), name]
            code = GENERATED_CODE_PREFIX + hashlib.sha256("/".join(path).encode()).hexdigest()[:12]
            if code in self.by_code:
                errors.append(_("自动生成的编码“%(code)s”已被占用，请填写编码") % {"code": code})
                return
        node = _Node(key=f"n{row}", name=name, code=code, level=kind, parent=parent, aliases=aliases, row=row)
        self._add(node)
        self.ops.append(
            _Op("region_create", node.key, {"name": name, "code": code, "level": kind, "aliases": aliases})
        )
        self.report.created[kind] = self.report.created.get(kind, 0) + 1

    def _plan_place(
        self,
        row: int,
        errors: list[str],
        *,
        name: str,
        kind: str,
        parent: str | None,
        code: str,
        aliases: str,
    ) -> None:
        if code:
            errors.append(_("编码只用于区域：%(kind)s的“编码”列请留空") % {"kind": Place.Kind(kind).label})
        if name:
            self.place_names.setdefault(name, row)
        if errors or parent is None:
            return
        earlier = self.planned_places.get((parent, name))
        if earlier is not None:
            errors.append(_("与第 %(row)s 行重复（同一区域下的同名地名）") % {"row": earlier})
            return
        self.planned_places[(parent, name)] = row
        region_pk = self.nodes[parent].pk
        existing = self.places.get((region_pk, name)) if region_pk is not None else None
        if existing is None:
            self.ops.append(_Op("place_create", parent, {"name": name, "kind": kind, "aliases": aliases}))
            self.report.created[kind] = self.report.created.get(kind, 0) + 1
            return
        pk, old_kind, old_aliases = existing
        if (old_kind, old_aliases) == (kind, aliases):
            self.report.unchanged += 1
            return
        self.ops.append(_Op("place_update", parent, {"kind": kind, "aliases": aliases}, place_pk=pk))
        self.report.updated[kind] = self.report.updated.get(kind, 0) + 1


# --- writing -----------------------------------------------------------------------------------------


def _apply(planner: _Planner) -> None:
    """Write the plan in file order. Runs inside the caller's transaction."""
    pks: dict[str, int] = {key: node.pk for key, node in planner.nodes.items() if node.pk is not None}
    loaded: dict[str, Region] = {}  # instances whose path is current; emptied when a move rewrites paths

    def region(key: str | None) -> Region | None:
        if key is None:
            return None
        if key not in loaded:
            loaded[key] = Region.objects.get(pk=pks[key])
        return loaded[key]

    for op in planner.ops:
        if op.action == "region_create":
            node = planner.nodes[op.key]
            obj = Region(parent=region(node.parent), **op.values)
            obj.save()
            pks[op.key] = obj.pk
            loaded[op.key] = obj
        elif op.action == "region_update":
            node = planner.nodes[op.key]
            obj = region(op.key)
            old_path = obj.path
            for name, value in op.values.items():
                setattr(obj, name, value)
            obj.parent = region(node.parent)
            obj.save()
            if obj.path != old_path:  # the descendants' paths were rewritten: reload what is needed next
                loaded.clear()
                loaded[op.key] = obj
        elif op.action == "place_create":
            Place.objects.create(region_id=pks[op.key], **op.values)
        else:
            place = Place.objects.get(pk=op.place_pk)
            for name, value in op.values.items():
                setattr(place, name, value)
            place.save(update_fields=[*op.values, "updated_at"])


def _columns(header: list[str]) -> dict[str, int | None]:
    normalised = [_norm_header(h) for h in header]
    found: dict[str, int | None] = {}
    for column, names in COLUMNS.items():
        found[column] = next(
            (normalised.index(_norm_header(n)) for n in names if _norm_header(n) in normalised), None
        )
    missing = [COLUMNS[c][0] + "/" + COLUMNS[c][1] for c in REQUIRED_COLUMNS if found[c] is None]
    if missing:
        raise GazetteerFileError(
            _("缺少列：%(missing)s（表头为：%(header)s）")
            % {"missing": "、".join(missing), "header": "、".join(h for h in header if h) or "空"}
        )
    return found


def _table_message(exc: TableError, path: str) -> str:
    message = str(exc)
    return message[len(path) + 2 :] if message.startswith(path + ": ") else message


def _read_rows(path: str, encoding: str | None) -> list[tuple[int, dict[str, str]]]:
    try:
        with read_table(path, encoding=encoding) as table:
            columns = _columns(table.header)
            return [
                (
                    number,
                    {
                        column: _clean(values[index]) if index is not None else ""
                        for column, index in columns.items()
                    },
                )
                for number, values in table.rows
            ]
    except TableError as exc:
        raise GazetteerFileError(_("无法读取文件：%(reason)s") % {"reason": _table_message(exc, path)})


def gazetteer_import(*, path: str, dry_run: bool = False, encoding: str | None = None) -> GazetteerReport:
    """Import regions and places from the CSV or XLSX file at `path`; all-or-nothing.

    Regions are matched by code, else by parent and name, and created or updated (name, level, parent,
    aliases); places are matched by region and name (kind, aliases). With `dry_run`, or when any row has an
    error, nothing is written and the report says what would happen. Raises GazetteerFileError when the file
    cannot be read or lacks a required column, GazetteerConflict when the database changed meanwhile.
    """
    planner = _Planner(_read_rows(path, encoding))
    report = planner.run()
    if dry_run or report.errors:
        return report
    if planner.ops:
        try:
            with transaction.atomic():
                _apply(planner)
        except (IntegrityError, Region.DoesNotExist, Place.DoesNotExist):
            raise GazetteerConflict(_("导入期间区域或地名被他人修改，未写入任何数据，请重新导入。"))
        gazetteer_changed()
    report.applied = True
    return report


def report_lines(report: GazetteerReport) -> Iterable[str]:
    """The counts of a report as short lines ("created: district 2, estate 5"), for the command."""

    def counts(by_kind: dict[str, int]) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind.items())) or "0"

    yield f"created: {counts(report.created)}"
    yield f"updated: {counts(report.updated)}"
    yield f"unchanged: {report.unchanged}"
