"""`r9crm import` then `r9crm search --json`, per file kind, on both backends."""

from __future__ import annotations

import datetime
import io
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import make_html_xls, make_text, make_xls, make_xlsx

from crm_web.cli import main
from crm_web.services import search

HEADER = ["姓名", "公司", "手机", "邮箱", "生日", "客户编号"]
ROWS: list[list[Any]] = [
    [
        "张小明",
        "宁波东方贸易有限公司",
        "13800138000",
        "zxm@example.com",
        "1990-03-15",
        "00123",
    ],
    [
        "Alice Smith",
        "Acme Ltd",
        "+86 155 5550 0102",
        "alice@acme.example",
        "1985/12/1",
        "007",
    ],
    ["李𠀀华", "义乌小商品", "0574-87654321", "", "", "A-9"],
]

EXPECTED = {
    "张小明": {
        "company": "宁波东方贸易有限公司",
        "mobile": "13800138000",
        "email": "zxm@example.com",
        "birthday": "1990-03-15",
        "extra": {"客户编号": "00123"},
    },
    "Alice Smith": {
        "company": "Acme Ltd",
        "mobile": "+86 155 5550 0102",
        "email": "alice@acme.example",
        "birthday": "1985-12-01",
        "extra": {"客户编号": "007"},
    },
    "李𠀀华": {
        "company": "义乌小商品",
        "mobile": "0574-87654321",
        "email": "",
        "birthday": "",
        "extra": {"客户编号": "A-9"},
    },
}


def as_dates(rows: list[list[Any]]) -> list[list[Any]]:
    """Return rows whose birthday cells are real dates (spreadsheet kinds)."""
    result = []
    for row in rows:
        copy = list(row)
        if copy[4]:
            copy[4] = datetime.date(*map(int, copy[4].replace("/", "-").split("-")))
        result.append(copy)
    return result


def build_gbk_txt(path: Path) -> Path:
    rows = [r for r in ROWS if "𠀀" not in r[0]]
    return make_text(path / "gbk.txt", [HEADER, *rows], encoding="gbk")


def build_gb18030_txt(path: Path) -> Path:
    return make_text(path / "gb.txt", [HEADER, *ROWS], encoding="gb18030")


def build_utf8_bom_csv(path: Path) -> Path:
    return make_text(path / "bom.csv", [HEADER, *ROWS], delimiter=",", bom=True)


def build_utf16_txt(path: Path) -> Path:
    return make_text(path / "u16.txt", [HEADER, *ROWS], encoding="utf-16-le", bom=True)


def build_xls(path: Path) -> Path:
    return make_xls(path / "legacy.xls", [HEADER, *as_dates(ROWS)])


def build_xlsx_title(path: Path) -> Path:
    return make_xlsx(
        path / "title.xlsx", [HEADER, *as_dates(ROWS)], title="2026年客户名单"
    )


def build_xlsx_numbers(path: Path) -> Path:
    rows = as_dates(ROWS)
    rows[0][2] = 13800138000  # typed as a number in Excel
    return make_xlsx(path / "numbers.xlsx", [HEADER, *rows])


def build_fake_xls(path: Path) -> Path:
    return make_html_xls(path / "bank.xls", [HEADER, *ROWS], encoding="gb18030")


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "gbk-tab-txt": build_gbk_txt,
    "gb18030-txt": build_gb18030_txt,
    "utf8-bom-csv": build_utf8_bom_csv,
    "utf16-txt": build_utf16_txt,
    "legacy-xls": build_xls,
    "xlsx-title-row": build_xlsx_title,
    "xlsx-phone-numbers": build_xlsx_numbers,
    "html-fake-xls": build_fake_xls,
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Any:
    data = tmp_path / "data"

    def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        return run(
            capsys, "--data-dir", str(data), "--database-url", database_url, *args
        )

    yield call
    search._indexes.clear()


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_import_then_search_json(
    kind: str, tmp_path: Path, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = BUILDERS[kind](tmp_path)
    code, out, err = cli(capsys, "import", str(source))
    assert code == 0, err
    code, out, err = cli(capsys, "search", "", "--json")
    assert code == 0, err
    found = {c["name"]: c for c in json.loads(out)}
    expected = {
        k: v for k, v in EXPECTED.items() if kind != "gbk-tab-txt" or "𠀀" not in k
    }
    assert sorted(found) == sorted(expected)
    for name, values in expected.items():
        for key, value in values.items():
            assert found[name][key] == value, (name, key)


def test_import_twice_creates_nothing_new(
    tmp_path: Path, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = build_xlsx_title(tmp_path)
    cli(capsys, "import", str(source))
    code, out, _err = cli(capsys, "import", str(source))
    assert code == 0
    assert "0 inserted" in out
    _code, out, _err = cli(capsys, "search", "", "--json")
    assert len(json.loads(out)) == 3


def test_dry_run_saves_nothing(
    tmp_path: Path, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = build_xlsx_title(tmp_path)
    code, out, _err = cli(capsys, "import", str(source), "--dry-run")
    assert code == 0
    assert "3 would be inserted" in out
    _code, out, _err = cli(capsys, "search", "", "--json")
    assert json.loads(out) == []


def test_search_json_finds_by_pinyin(
    tmp_path: Path, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "import", str(build_xlsx_title(tmp_path)))
    _code, out, _err = cli(capsys, "search", "zxm", "--json")
    assert [c["name"] for c in json.loads(out)] == ["张小明"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "not a spreadsheet"),
        (b"PK\x03\x04broken", "damaged"),
    ],
)
def test_import_unreadable_file_exits_nonzero(
    tmp_path: Path,
    cli: Any,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(content)
    code, _out, err = cli(capsys, "import", str(path))
    assert code == 2
    assert message in err
    assert "contacts.xlsx" in err


def test_export_then_reimport_round_trip(
    tmp_path: Path, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "import", str(build_xlsx_title(tmp_path)))
    _code, before, _err = cli(capsys, "search", "", "--json")
    for suffix in ("xlsx", "txt", "csv"):
        target = tmp_path / f"out.{suffix}"
        code, out, err = cli(capsys, "export", str(target))
        assert code == 0, err
        assert "3 contacts exported" in out
    other = tmp_path / "other"
    for suffix in ("xlsx", "txt", "csv"):
        target = tmp_path / f"out.{suffix}"
        args = [
            "--data-dir",
            str(other / suffix),
            "--database-url",
            f"sqlite:///{other / suffix / 'db.sqlite3'}",
        ]
        (other / suffix).mkdir(parents=True)
        run(capsys, *args, "import", str(target))
        _code, after, _err = run(capsys, *args, "search", "", "--json")
        assert json.loads(after) == json.loads(before), suffix


def test_serve_refuses_non_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(
        capsys, "--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0", "--port", "0"
    )
    assert code == 2
    assert "Refusing to listen on 0.0.0.0" in err


def test_serve_busy_port_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, _out, err = run(
            capsys, "--data-dir", str(tmp_path), "serve", "--port", str(port)
        )
    assert code == 2
    assert f"Port {port}" in err
    assert "already in use" in err


def test_user_commands_add_set_password_and_protect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ("--data-dir", str(tmp_path))
    code, out, _err = run(capsys, *base, "user", "list")
    assert code == 0
    assert out.splitlines() == [
        "Login protection: off",
        "Admin\tadmin\tenabled, no password",
    ]
    code, _out, err = run(capsys, *base, "user", "protect", "on")
    assert code == 2
    assert "“Admin”" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("密码密码密码密码\n"))
    assert run(capsys, *base, "user", "passwd", "admin", "--password-stdin")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("lily pass 1\n"))
    assert run(capsys, *base, "user", "add", "Lily", "--password-stdin")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("密" * 25 + "\n"))
    code, _out, err = run(capsys, *base, "user", "passwd", "Lily", "--password-stdin")
    assert code == 2
    assert "75 bytes" in err
    assert run(capsys, *base, "user", "protect", "on")[0] == 0
    code, out, _err = run(capsys, *base, "user", "list")
    assert out.splitlines() == [
        "Login protection: on",
        "Admin\tadmin\tenabled",
        "Lily\tuser\tenabled",
    ]


def test_serve_network_needs_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import urllib.error

    from crm_web import create_app
    from crm_web.config import load_settings
    from crm_web.server import Server
    from crm_web.services import accounts

    app = create_app(load_settings(data_dir=tmp_path, testing=True))
    database = app.extensions["crm_db"]
    admin = accounts.list_users(database)[0]
    accounts.set_password(database, admin["uuid"], "a good password", by="test")
    accounts.set_protection(database, True, by="test")
    server = Server(app, host="0.0.0.0", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.port}/contacts/"
        request = urllib.request.Request(url, headers={"Host": "crm-pc.local"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener = urllib.request.build_opener(NoRedirect())
            opener.open(request, timeout=10)
        assert refused.value.code == 302
        assert refused.value.headers["Location"].startswith("/login?next=")
    finally:
        server.close()
        database.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
