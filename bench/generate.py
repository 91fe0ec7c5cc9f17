"""Seeded, realistic contact rows written as an .xlsx import file.

About two thirds of the contacts have Chinese names and mainland numbers,
the rest Latin names and foreign numbers. Every mobile, landline and e-mail
is unique, so an import into an empty database inserts every row. Phone
numbers, QQ numbers and postcodes are text cells, as a user who formats
those columns as Text in Excel would save them.
"""

from __future__ import annotations

import datetime
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from crm_web.services.text import pinyin_syllables

# Bump when the rows change, so that cached files are generated again.
GENERATOR_VERSION = 1

HEADERS = (
    "姓名", "公司", "职位", "分类", "手机", "电话", "邮箱", "微信", "QQ",
    "国家", "城市", "地址", "邮编", "来源", "备注", "生日",
)  # fmt: skip

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟"
    "熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红建文辉力飞鹏斌"
    "宇浩凯晨欣怡婷雪梅琳晶颖佳子涵轩博俊峰海波志国庆东亮健琪琦思雨嘉欢瑶宁"
    "丹蕾倩慧晓燕云龙鑫正新春德永"
)
LATIN_FIRST = (
    "James",
    "Mary",
    "John",
    "Linda",
    "Michael",
    "Sarah",
    "David",
    "Emma",
    "Ahmed",
    "Mohammed",
    "Fatima",
    "Omar",
    "Olga",
    "Ivan",
    "Anna",
    "Hans",
    "Priya",
    "Rahul",
    "Carlos",
    "Maria",
    "Lucas",
    "Sofia",
    "Kenji",
    "Yuki",
)
LATIN_LAST = (
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Al Mansouri",
    "Khan",
    "Hassan",
    "Petrov",
    "Ivanova",
    "Müller",
    "Schmidt",
    "Sharma",
    "Patel",
    "Garcia",
    "Rodriguez",
    "Silva",
    "Santos",
    "Tanaka",
    "Suzuki",
    "O'Brien",
)
CN_CITIES = (
    ("北京", "010", "100010"), ("上海", "021", "200001"),
    ("广州", "020", "510000"), ("深圳", "0755", "518000"),
    ("杭州", "0571", "310000"), ("宁波", "0574", "315000"),
    ("成都", "028", "610000"), ("武汉", "027", "430000"),
    ("呼和浩特", "0471", "010010"), ("太原", "0351", "030000"),
    ("义乌", "0579", "322000"), ("苏州", "0512", "215000"),
)  # fmt: skip
# Country, city, calling code, mobile prefixes, mobile body length, postcode.
FOREIGN = (
    ("阿联酋", "Dubai", "971", ("50", "52", "55"), 7, ""),
    ("United States", "Boston", "1", ("617", "857"), 7, "02134"),
    ("Germany", "Dresden", "49", ("151", "160", "170"), 8, "01067"),
    ("Russia", "Moscow", "7", ("916", "903", "925"), 7, "101000"),
    ("India", "Mumbai", "91", ("98", "99", "90"), 8, "400001"),
    ("Brazil", "São Paulo", "55", ("11",), 9, "01310-100"),
)
CN_MOBILE_PREFIXES = (
    "130", "131", "133", "135", "136", "137", "138", "139", "150", "151",
    "152", "155", "158", "159", "166", "176", "177", "180", "186", "188",
    "189", "199",
)  # fmt: skip
CN_BRANDS = (
    "华信", "联创", "恒通", "瑞达", "金盛", "宏远", "天成", "博源", "新世纪", "东方",
    "鼎盛", "海纳", "锦程", "万邦", "永泰",
)  # fmt: skip
CN_TRADES = (
    "科技", "电子", "贸易", "机械", "纺织", "化工", "进出口", "物流", "塑胶",
    "五金", "照明", "服饰", "包装", "医疗器械",
)  # fmt: skip
EN_COMPANIES = (
    "Gulf Star General Trading LLC",
    "Nordic Supply GmbH",
    "Acme Imports Inc.",
    "Blue Ocean Logistics Ltd",
    "Silverline Retail Pvt Ltd",
    "Al Noor Electronics FZE",
    "Volga Machinery OOO",
    "Brightway Textiles Ltda",
    "Pacific Rim Sourcing Co.",
    "Evergreen Home Goods LLC",
)
CN_TITLES = ("总经理", "销售经理", "采购经理", "外贸业务员", "财务主管", "技术总监",
             "厂长", "采购专员", "副总经理", "行政助理")  # fmt: skip
EN_TITLES = ("Purchasing Manager", "CEO", "Sales Director", "Buyer",
             "Import Manager", "Owner", "Procurement Officer")  # fmt: skip
CATEGORIES = ("VIP客户", "潜在客户", "老客户", "供应商", "经销商", "Partner",
              "展会客户", "Distributor")  # fmt: skip
SOURCES = ("广交会", "阿里巴巴", "官网", "转介绍", "展会", "LinkedIn", "Google",
           "电话开发", "Made-in-China", "老客户推荐")  # fmt: skip
CN_STREETS = ("天童南路", "中山东路", "人民路", "解放北路", "科技园路", "滨江大道",
              "建设路", "长江路")  # fmt: skip
NOTES = (
    "",
    "",
    "",
    "对价格敏感，要求FOB报价",
    "上次展会见过，想要样品",
    "每年采购两次，旺季在三月和九月",
    "Prefers WhatsApp; replies in the evening.",
    "需要CE认证文件\n付款方式：30%定金，70%见提单",
    "Asked for a catalogue and MOQ.",
)
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com")
FOREIGN_MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "mail.ru")


class _Unique:
    """Keys handed out so far, so that each value drawn is new."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def take(self, draw: Iterator[tuple[str, str]]) -> str:
        """Return the display form of the first draw whose key is new."""
        for key, displayed in draw:
            if key not in self.seen:
                self.seen.add(key)
                return displayed
        raise AssertionError("the draw iterator is infinite")


class ContactMaker:
    """A seeded source of contact rows, each a tuple of cells in HEADERS order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.phones = _Unique()
        self.emails = _Unique()

    def row(self) -> tuple[object, ...]:
        if self.rng.random() < 0.67:
            return self._chinese_row()
        return self._foreign_row()

    def _chinese_row(self) -> tuple[object, ...]:
        rng = self.rng
        name = rng.choice(SURNAMES) + "".join(
            rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2)))
        )
        city, area_code, postcode = rng.choice(CN_CITIES)
        mobile = self.phones.take(self._cn_mobiles())
        landline = ""
        if rng.random() < 0.4:
            landline = self.phones.take(self._cn_landlines(area_code))
        login = "".join(pinyin_syllables(name))
        address = f"{city}市{rng.choice(CN_STREETS)}{rng.randint(1, 999)}号"
        return (
            name,
            self._cn_company(city),
            rng.choice(CN_TITLES),
            self._category(),
            mobile,
            landline,
            self.emails.take(self._mails(login, MAIL_DOMAINS)),
            self._maybe(0.5, lambda: f"{login}{rng.randint(10, 9999)}"),
            self._maybe(0.4, lambda: str(rng.randint(10**5, 3 * 10**9))),
            "中国",
            city,
            address,
            postcode,
            rng.choice(SOURCES),
            rng.choice(NOTES),
            self._birthday(),
        )

    def _foreign_row(self) -> tuple[object, ...]:
        rng = self.rng
        first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
        country, city, code, prefixes, length, postcode = rng.choice(FOREIGN)
        login = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        return (
            f"{first} {last}",
            rng.choice(EN_COMPANIES),
            rng.choice(EN_TITLES),
            self._category(),
            self.phones.take(self._foreign_mobiles(code, prefixes, length)),
            "",
            self.emails.take(self._mails(login, FOREIGN_MAIL_DOMAINS)),
            "",
            "",
            country,
            city,
            f"{rng.randint(1, 400)} Main Street, {city}",
            postcode,
            rng.choice(SOURCES),
            rng.choice(NOTES),
            self._birthday(),
        )

    def _cn_company(self, city: str) -> str:
        rng = self.rng
        if rng.random() < 0.1:
            return rng.choice(EN_COMPANIES)
        brand, trade = rng.choice(CN_BRANDS), rng.choice(CN_TRADES)
        return f"{city}{brand}{trade}有限公司"

    def _cn_mobiles(self) -> Iterator[tuple[str, str]]:
        while True:
            digits = self.rng.choice(CN_MOBILE_PREFIXES) + self._digits(8)
            if self.rng.random() < 0.1:
                yield digits, f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
            else:
                yield digits, digits

    def _cn_landlines(self, area_code: str) -> Iterator[tuple[str, str]]:
        while True:
            local = str(self.rng.randint(2, 8)) + self._digits(7)
            yield area_code + local, f"{area_code}-{local}"

    def _foreign_mobiles(
        self, code: str, prefixes: tuple[str, ...], length: int
    ) -> Iterator[tuple[str, str]]:
        while True:
            prefix, body = self.rng.choice(prefixes), self._digits(length)
            displayed = f"+{code} {prefix} {body[:-4]} {body[-4:]}"
            yield code + prefix + body, displayed

    def _mails(self, login: str, domains: tuple[str, ...]) -> Iterator[tuple[str, str]]:
        while True:
            address = f"{login}{self.rng.randint(1, 9999)}@{self.rng.choice(domains)}"
            yield address, address

    def _digits(self, count: int) -> str:
        return str(self.rng.randrange(10**count)).zfill(count)

    def _category(self) -> str:
        return self.rng.choice(CATEGORIES) if self.rng.random() < 0.6 else ""

    def _birthday(self) -> datetime.date | None:
        if self.rng.random() < 0.5:
            return None
        return datetime.date(1960, 1, 1) + datetime.timedelta(
            days=self.rng.randrange(40 * 365)
        )

    def _maybe(self, share: float, make: Callable[[], str]) -> str:
        return make() if self.rng.random() < share else ""


def cached_file(out_dir: Path, rows: int, seed: int) -> tuple[Path, bool]:
    """Return the path of the import file, writing it unless it is cached.

    The second value is True when the file was generated by this call.
    """
    path = out_dir / f"contacts-v{GENERATOR_VERSION}-{rows}-seed{seed}.xlsx"
    if path.exists():
        return path, False
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    write_file(partial, rows, seed)
    os.replace(partial, path)
    return path, True


def write_file(path: Path, rows: int, seed: int) -> None:
    """Write ``rows`` generated contacts below a header row."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("联系人")
    sheet.append(list(HEADERS))
    maker = ContactMaker(seed)
    for _ in range(rows):
        sheet.append([_cell(sheet, value) for value in maker.row()])
    workbook.save(path)


def _cell(sheet: WriteOnlyWorksheet, value: object) -> object:
    if isinstance(value, datetime.date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value or None
