"""`r9crm sync upload|download|status` against a MariaDB server database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select
from sync_helpers import (
    add_contact,
    edit_contact,
    prepare_server,
    row_of,
    run,
    set_rights,
    sign_in_terminal,
)

from crm_web.cli import main
from crm_web.data import sync as sync_data
from crm_web.data.db import Database, connect
from crm_web.data.preferences import upsert_preference
from crm_web.data.schema import contacts, sync_history
from crm_web.services import categories as category_service
from crm_web.services import search

pytestmark = pytest.mark.mysql


@pytest.fixture
def server(mysql_url: str) -> Iterator[Database]:
    database = prepare_server(mysql_url)
    yield database
    database.release()
    search.index_for(database).forget()
    database.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def local_url(data_dir: Path) -> str:
    data_dir.mkdir()
    return f"sqlite:///{data_dir / 'crm.sqlite3'}"


@pytest.fixture
def terminal(
    local_url: str, data_dir: Path, server: Database, mysql_url: str
) -> Iterator[Database]:
    """The local database the command opens, signed in as lily."""
    database = connect(local_url)
    sign_in_terminal(database, data_dir, mysql_url, "lily")
    yield database
    database.release()
    search.index_for(database).forget()
    database.close()
    search._indexes.clear()


def sync(
    capsys: pytest.CaptureFixture[str], data_dir: Path, url: str, action: str
) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), "--database-url", url, "sync", action])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def count(db: Database, table: Table) -> int:
    found = int(db.execute(select(func.count()).select_from(table)).scalar_one())
    db.release()
    return found


def test_upload_prints_summary(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(terminal, name="王芳")
    code, out, _err = sync(capsys, data_dir, local_url, "upload")
    assert code == 0
    assert "Upload finished: 1 sent, 0 received, 0 conflicts, 0 rejected." in out


def test_upload_progress_on_stderr(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(terminal, name="王芳")
    _code, out, err = sync(capsys, data_dir, local_url, "upload")
    assert "upload: 1 of 1 records checked" in err
    assert "of 1 records" not in out


def test_upload_reaches_server(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    server: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    record = add_contact(terminal, name="王芳")
    sync(capsys, data_dir, local_url, "upload")
    stored = row_of(server, contacts, record)
    assert stored is not None
    assert stored["name"] == "王芳"


def test_download_prints_summary(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    server: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(server, owner="lily", name="李雷")
    code, out, _err = sync(capsys, data_dir, local_url, "download")
    assert code == 0
    assert "Download finished: 0 sent, 1 received" in out


def test_status_prints_pending(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(terminal, name="王芳")
    code, out, _err = sync(capsys, data_dir, local_url, "status")
    assert code == 0
    assert "Waiting to be uploaded: contacts 1, sales records 0" in out


def test_status_without_runs(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    _code, out, _err = sync(capsys, data_dir, local_url, "status")
    assert "No upload or download yet." in out


def test_status_lists_last_runs(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(terminal, name="王芳")
    sync(capsys, data_dir, local_url, "upload")
    _code, out, _err = sync(capsys, data_dir, local_url, "status")
    last_run = out.split("Last runs:\n", 1)[1].splitlines()[0]
    assert last_run.split("\t")[1:] == [
        "upload",
        "lily",
        "sent 1, received 0, conflicts 0, rejected 0",
        "done",
    ]


def test_status_running_run_has_hint(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    terminal.write(
        lambda db: sync_data.insert_history(db, direction="upload", network_user="lily")
    )
    _code, out, _err = sync(capsys, data_dir, local_url, "status")
    last_run = out.split("Last runs:\n", 1)[1].splitlines()[0]
    assert last_run.split("\t")[-1] == (
        "running (if no sync is running, it was interrupted)"
    )


@pytest.fixture
def conflict(terminal: Database, server: Database, data_dir: Path) -> str:
    """王芳 changed here and on the server since the last upload."""
    record = add_contact(terminal, name="王芳", company="华南电子")
    run("upload", terminal, data_dir)
    edit_contact(server, record, company="华北电子")
    edit_contact(terminal, record, company="华东电子")
    return record


def test_upload_with_conflict_exits_3(
    capsys: pytest.CaptureFixture[str],
    conflict: str,
    data_dir: Path,
    local_url: str,
) -> None:
    code, out, _err = sync(capsys, data_dir, local_url, "upload")
    assert code == 3
    assert "Open conflicts: 1." in out


def test_status_with_conflict_exits_3(
    capsys: pytest.CaptureFixture[str],
    conflict: str,
    data_dir: Path,
    local_url: str,
) -> None:
    sync(capsys, data_dir, local_url, "upload")
    code, _out, _err = sync(capsys, data_dir, local_url, "status")
    assert code == 3


def test_download_without_right_exits_1(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    server: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(server, owner="lily", name="李雷")
    set_rights(server, "lily", may_download=False)
    code, _out, err = sync(capsys, data_dir, local_url, "download")
    assert code == 1
    assert "Network user lily may not download from the shared server." in err


def test_download_without_right_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    server: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    add_contact(server, owner="lily", name="李雷")
    set_rights(server, "lily", may_download=False)
    sync(capsys, data_dir, local_url, "download")
    assert count(terminal, contacts) == 0
    assert count(terminal, sync_history) == 0


def test_upload_without_server_exits_1(
    capsys: pytest.CaptureFixture[str], data_dir: Path, local_url: str
) -> None:
    code, _out, err = sync(capsys, data_dir, local_url, "upload")
    assert code == 1
    assert "no shared server" in err


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["sync", "--help"])
    assert stopped.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "2 for a usage error" in shown
    assert "3 when conflicts remain" in shown


def test_unknown_action_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["sync", "uplaod"])
    assert stopped.value.code == 2


def test_status_without_server_exits_1(
    capsys: pytest.CaptureFixture[str], data_dir: Path, local_url: str
) -> None:
    code, out, err = sync(capsys, data_dir, local_url, "status")
    assert code == 1
    assert "no shared server" in err
    assert "No upload or download yet." not in out


def test_status_on_shared_server_exits_1(
    capsys: pytest.CaptureFixture[str],
    server: Database,
    data_dir: Path,
    local_url: str,
    mysql_url: str,
) -> None:
    code, _out, err = sync(capsys, data_dir, mysql_url, "status")
    assert code == 1
    assert "works directly on the shared server" in err


def test_upload_on_shared_server_exits_1(
    capsys: pytest.CaptureFixture[str],
    server: Database,
    data_dir: Path,
    local_url: str,
    mysql_url: str,
) -> None:
    code, _out, err = sync(capsys, data_dir, mysql_url, "upload")
    assert code == 1
    assert "nothing to upload or download" in err


def test_status_prints_data_folder(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    _code, out, _err = sync(capsys, data_dir, local_url, "status")
    assert f"Data folder: {data_dir}" in out.splitlines()


def test_missing_data_dir_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mistyped = tmp_path / "dta"
    code = main(["--data-dir", str(mistyped), "sync", "status"])
    assert code == 1
    assert f"The data folder {mistyped} does not exist" in capsys.readouterr().err


def test_missing_data_dir_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mistyped = tmp_path / "dta"
    main(["--data-dir", str(mistyped), "sync", "upload"])
    assert not mistyped.exists()


def test_messages_english_in_chinese_app(
    capsys: pytest.CaptureFixture[str], data_dir: Path, local_url: str
) -> None:
    database = connect(local_url)
    database.write(lambda db: upsert_preference(db, "language", "zh_CN"))
    database.release()
    database.close()
    _code, _out, err = sync(capsys, data_dir, local_url, "upload")
    assert "This computer has no shared server set up" in err


def test_upload_progress_ends_at_total(
    capsys: pytest.CaptureFixture[str],
    terminal: Database,
    server: Database,
    data_dir: Path,
    local_url: str,
) -> None:
    for name in ("VIP", "Supplier", "Agent"):
        category_service.create_category(server, name, owner="boss")
    for name in ("王芳", "李雷", "赵敏"):
        add_contact(terminal, name=name)
    _code, _out, err = sync(capsys, data_dir, local_url, "upload")
    progress = [line for line in err.splitlines() if line.startswith("upload: ")]
    # The three categories fetched first get new revisions here, so they are
    # counted, but the contacts are still to go when they are done.
    assert progress == [
        "upload: 3 of 6 records checked",
        "upload: 6 of 6 records checked",
    ]
