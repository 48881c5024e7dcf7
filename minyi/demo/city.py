"""The demo city 江城市: regions, departments and categories. Fictional; any likeness is coincidence."""

from __future__ import annotations

from dataclasses import dataclass

CITY = ("江城市", "jc")

#: district name, code, kind (区/县), streets, centre (lat, lon)
DISTRICTS = [
    ("江北区", "jb", ["汉江街道", "花桥街道", "后湖街道", "球场街道"], (30.62, 114.29)),
    ("江南区", "jn", ["白沙洲街道", "紫阳街道", "首义街道", "黄鹤楼街道"], (30.54, 114.31)),
    ("东湖区", "dh", ["水果湖街道", "中南路街道", "珞南街道", "洪山街道"], (30.55, 114.36)),
    ("西山区", "xs", ["琴台街道", "龟山街道", "长丰街道", "宗关街道"], (30.57, 114.24)),
    ("新港区", "xg", ["阳逻街道", "天兴街道", "双柳街道", "港湾街道"], (30.68, 114.52)),
    ("临江县", "lj", ["城关镇", "柏泉镇", "东山镇", "新沟镇"], (30.73, 114.11)),
]
COMMUNITY_SUFFIXES = ["社区", "社区", "村"]
COMMUNITY_STEMS = [
    "幸福", "和平", "友谊", "新华", "建设", "光明", "长青", "滨江", "东风", "青山",
    "桃源", "金桥", "花园", "翠柳", "南湖", "锦绣", "朝阳", "育才", "丰收", "红旗",
]  # fmt: skip

#: code, name, parent code or None, reply_needs_approval
DEPARTMENTS = [
    ("hotline", "市12345热线中心", None, False),
    ("xfj", "市信访局", None, True),
    ("zjj", "市住建局", None, True),
    ("zjj-wy", "市住建局物业监管处", "zjj", False),
    ("rsj", "市人社局", None, False),
    ("wjw", "市卫健委", None, False),
    ("mzj", "市民政局", None, False),
    ("jyj", "市教育局", None, False),
    ("sthjj", "市生态环境局", None, False),
    ("jtj", "市交通运输局", None, False),
    ("scjgj", "市市场监管局", None, False),
    ("zrzyj", "市自然资源局", None, False),
]
#: for every district a government and two street offices as its children (codes derived)
STREET_OFFICES_PER_DISTRICT = 2


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    parent: str | None
    livelihood: bool
    keywords: str
    #: department codes that handle it, with weights; "street" = the street office of the case's district,
    #: "district" = the district government
    handlers: tuple[tuple[str, int], ...] = ()
    weight: int = 0


CATEGORIES = [
    CategorySpec("urban", "城乡建设", None, False, ""),
    CategorySpec("housing", "住房保障", "urban", True, "公租房 廉租房 保障房 房屋质量 漏水 裂缝",
                 (("zjj", 8), ("district", 2)), 7),
    CategorySpec("property", "物业管理", "urban", True, "物业 电梯 停车 小区 维修基金 业委会",
                 (("zjj", 5), ("zjj-wy", 3), ("street", 3)), 16),
    CategorySpec("land", "征地拆迁与土地", None, False, ""),
    CategorySpec("demolition", "征地拆迁", "land", True, "拆迁 征收 补偿 安置 宅基地",
                 (("zrzyj", 4), ("zjj", 3), ("district", 3)), 6),
    CategorySpec("labour", "劳动和社会保障", None, False, ""),
    CategorySpec("wages", "拖欠工资", "labour", True, "工资 欠薪 农民工 劳务 包工头",
                 (("rsj", 8), ("district", 2)), 10),
    CategorySpec("social-insurance", "社会保险", "labour", True, "社保 养老保险 医保 失业金 退休",
                 (("rsj", 1),), 6),
    CategorySpec("health", "卫生健康", None, False, ""),
    CategorySpec("medical", "医疗服务", "health", True, "医院 看病 医生 挂号 收费 药品",
                 (("wjw", 1),), 7),
    CategorySpec("civil", "民政", None, False, ""),
    CategorySpec("elderly", "养老服务", "civil", True, "养老院 老人 助餐 居家养老 高龄补贴",
                 (("mzj", 4), ("street", 1)), 5),
    CategorySpec("education", "教育", None, False, ""),
    CategorySpec("schooling", "入学与校园", "education", True, "入学 学位 学校 学费 课后服务 校外培训",
                 (("jyj", 1),), 8),
    CategorySpec("environment", "生态环境", None, False, ""),
    CategorySpec("noise", "噪声扰民", "environment", False, "噪音 施工 夜间 广场舞 商铺",
                 (("sthjj", 3), ("street", 2)), 8),
    CategorySpec("pollution", "大气与水污染", "environment", False, "油烟 异味 污水 黑臭 排放 焚烧",
                 (("sthjj", 1),), 5),
    CategorySpec("transport", "交通运输", None, False, ""),
    CategorySpec("traffic", "道路交通", "transport", False, "拥堵 红绿灯 停车 路面 坑洼 学校门口",
                 (("jtj", 3), ("district", 1)), 7),
    CategorySpec("bus", "公共交通", "transport", False, "公交 地铁 站台 线路 出租车 班次",
                 (("jtj", 1),), 4),
    CategorySpec("market", "市场监管", None, False, ""),
    CategorySpec("consumer", "消费维权", "market", False, "退款 预付卡 健身房 虚假宣传 价格",
                 (("scjgj", 1),), 6),
    CategorySpec("food", "食品安全", "market", True, "食品 过期 餐馆 外卖 卫生",
                 (("scjgj", 1),), 4),
]  # fmt: skip

#: Where the dispatcher sends petitions (信访) that do not fit a bureau, and praise.
PETITION_DEPARTMENT = "xfj"
