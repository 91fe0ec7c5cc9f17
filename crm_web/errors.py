"""Errors the user must hear about, each with its sentence and HTTP status.

Every class builds its message in its constructor with ``gettext``, so the
sentence names the bad value and what to do, in the user's language.
Outside a request (the command line without an app context) ``gettext``
returns the English text.
"""

from __future__ import annotations

from http import HTTPStatus

from flask_babel import gettext as _
from flask_babel import ngettext

from crm_web.i18n import join_sentences


class UserError(Exception):
    """An error caused by input or state the user can fix."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(UserError):
    status = HTTPStatus.NOT_FOUND

    def __init__(self, what: str, key: object) -> None:
        super().__init__(
            _(
                "%(what)s %(key)s was not found. It may have been deleted; "
                "go back to the list and try again.",
                what=what,
                key=key,
            )
        )


class VersionConflictError(UserError):
    """Someone else saved the record after it was opened for editing."""

    status = HTTPStatus.CONFLICT

    def __init__(self, name: str) -> None:
        super().__init__(
            _(
                "“%(name)s” was changed by someone else after you opened it. "
                "Your changes were not saved; reload it to see the new version "
                "and apply your changes again.",
                name=name,
            )
        )
        # The record's name, for a form that shows both versions instead.
        self.name = name


class SharingSelectionChangedError(UserError):
    """The contacts to share changed between the confirmation and the save."""

    status = HTTPStatus.CONFLICT

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            _(
                "The sharing of %(expected)s contacts was confirmed, but the "
                "list has changed since and now %(found)s would change, so "
                "nothing was changed. Check the new numbers and confirm again.",
                expected=expected,
                found=found,
            )
        )
        self.found = found


class InvalidValueError(UserError):
    """A field's value cannot be stored as typed."""

    def __init__(self, field: str, value: object, hint: str) -> None:
        super().__init__(
            _(
                "%(field)s “%(value)s” is not valid: %(hint)s",
                field=field,
                value=value,
                hint=hint,
            )
        )
        self.field = field


class DuplicateNameError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, what: str, name: str) -> None:
        super().__init__(
            _(
                "A %(what)s named “%(name)s” already exists. Choose another name.",
                what=what,
                name=name,
            )
        )


# --- the account vault --------------------------------------------------


class VaultLockedError(UserError):
    status = HTTPStatus.LOCKED

    def __init__(self) -> None:
        super().__init__(
            _(
                "The account vault is locked. Unlock it with your master "
                "password, then try again."
            )
        )


class WrongMasterPasswordError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self) -> None:
        super().__init__(
            _(
                "The master password is wrong, so the vault stays locked and "
                "nothing in it was changed. Type it again, and check the "
                "keyboard language and Caps Lock."
            )
        )


class PasswordMismatchError(UserError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "The two passwords typed are not the same. Type the same "
                "password in both fields."
            )
        )


class PasswordTooShortError(UserError):
    def __init__(self, length: int, minimum: int) -> None:
        super().__init__(
            ngettext(
                "The password has %(num)s character; use at least %(minimum)s. "
                "A phrase of several words is easy to remember and hard to "
                "guess.",
                "The password has %(num)s characters; use at least %(minimum)s. "
                "A phrase of several words is easy to remember and hard to "
                "guess.",
                length,
                minimum=minimum,
            )
        )


class VaultExistsError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, owner: str) -> None:
        super().__init__(
            _(
                "The account vault of “%(owner)s” already has a master "
                "password. Unlock it with that password; to change it, use "
                "Change master password in the vault.",
                owner=owner,
            )
        )


class VaultKeyChangedError(UserError):
    """The vault's master password changed after this session unlocked it."""

    status = HTTPStatus.CONFLICT

    def __init__(self) -> None:
        super().__init__(
            _(
                "The vault's master password was changed in another window, "
                "so this window locked the vault and saved nothing. Unlock it "
                "with the new master password."
            )
        )


class VaultEntryInvalidError(UserError):
    """One or more fields of a vault entry are invalid."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class VaultEntryDamagedError(UserError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, title: str) -> None:
        super().__init__(
            _(
                "The vault entry “%(title)s” cannot be decrypted because its "
                "stored data is damaged. Import it again from an exported "
                "vault file, or delete it.",
                title=title,
            )
        )


class NoCharacterSetError(UserError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "Choose at least one kind of character (lowercase, uppercase, "
                "digits or symbols) for the generated password."
            )
        )


class VaultFileDamagedError(UserError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” is not a vault file exported by R9 CRM, or it is "
                "damaged, so nothing was imported. Choose a file made with "
                "Export in the account vault.",
                file=filename,
            )
        )


class VaultFileVersionError(UserError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, filename: str, version: str) -> None:
        super().__init__(
            _(
                "“%(file)s” is a vault file of version %(version)s, which this "
                "R9 CRM cannot read, so nothing was imported. Import it with "
                "the R9 CRM that exported it, or a newer one.",
                file=filename,
                version=version,
            )
        )


class VaultFilePasswordError(UserError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "The password for “%(file)s” is wrong, or the file was changed "
                "after it was exported, so nothing was imported. Type the "
                "password that was set when the file was exported.",
                file=filename,
            )
        )


# --- files the importer cannot read -------------------------------------


class ImportFileError(UserError):
    """The uploaded or named file cannot be read as a table."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class EmptyFileError(ImportFileError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” is empty: it contains no rows. Check that you chose "
                "the right file and that it was saved completely.",
                file=filename,
            )
        )


class CorruptFileError(ImportFileError):
    def __init__(self, filename: str, kind: str) -> None:
        super().__init__(
            _(
                "“%(file)s” looks like a %(kind)s file but is damaged and cannot "
                "be read. Open it in Excel or WPS, save it again, and import "
                "the new copy.",
                file=filename,
                kind=kind,
            )
        )


class PasswordProtectedError(ImportFileError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” is protected with a password. Open it in Excel or "
                "WPS, remove the password (File > Info > Protect Workbook), save "
                "it, and import it again.",
                file=filename,
            )
        )


class UnsupportedFormatError(ImportFileError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” is not a spreadsheet or text table that R9 CRM can "
                "read. Save it from Excel or WPS as .xlsx, .xls, .csv or "
                "tab-separated .txt and import that file.",
                file=filename,
            )
        )


class UnknownEncodingError(ImportFileError):
    def __init__(self, filename: str, encoding: str) -> None:
        super().__init__(
            _(
                "“%(file)s” cannot be read as %(encoding)s text. Choose another "
                "encoding in the preview, or save the file as UTF-8 and import "
                "it again.",
                file=filename,
                encoding=encoding,
            )
        )


class NoHeaderError(ImportFileError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "No column in “%(file)s” could be matched to a contact field "
                "such as Name, Mobile or E-mail. Add a header row (download the "
                "template to see one) or map the columns by hand.",
                file=filename,
            )
        )


class DatabaseCharsetError(UserError):
    """The MySQL database would lose Chinese text or emoji."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, database: str, charset: str) -> None:
        super().__init__(
            _(
                "The MySQL database “%(db)s” uses the character set %(charset)s, "
                "which loses Chinese characters or emoji. Run: ALTER DATABASE "
                "`%(db)s` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; then start "
                "R9 CRM again.",
                db=database,
                charset=charset,
            )
        )


class DatabaseUnavailableError(UserError):
    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            _(
                "Cannot open the database %(url)s: %(reason)s. Check the address, "
                "user name and password, and that the server is running.",
                url=url,
                reason=reason,
            )
        )


# --- files the exporter cannot write ------------------------------------


class UnsupportedExportFormatError(UserError):
    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” cannot be exported because its name does not end "
                "in .xlsx, .txt or .csv. Choose one of these types and export "
                "again.",
                file=filename,
            )
        )


class ExportWriteError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(
            _(
                "Cannot write “%(file)s”: %(reason)s. If the file is open in "
                "Excel or WPS, close it. Otherwise choose another folder. Then "
                "export again.",
                file=filename,
                reason=reason,
            )
        )


# --- the file repository ------------------------------------------------


class FileTooLargeError(UserError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE

    def __init__(self, filename: str, limit_mb: int) -> None:
        super().__init__(
            _(
                "“%(file)s” is larger than %(limit)s MB, the largest file the "
                "file repository accepts, so nothing was added. Choose a "
                "smaller file, or raise the largest file size in Settings.",
                file=filename,
                limit=limit_mb,
            )
        )


class UploadTooLargeError(UserError):
    """A request carrying several files is over the server's request limit."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE

    def __init__(self, request_mb: int, limit_mb: int) -> None:
        super().__init__(
            _(
                "The files sent together are larger than %(request)s MB, so "
                "nothing was added. Each file may be up to %(limit)s MB: add "
                "fewer files at a time.",
                request=request_mb,
                limit=limit_mb,
            )
        )


class LocalFileError(UserError):
    """A path chosen in the desktop window's file dialog cannot be read."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            _(
                "“%(path)s” cannot be added (%(reason)s), so nothing was "
                "added. Choose a file that exists and that you may read.",
                path=path,
                reason=reason,
            )
        )


class FileContentMissingError(UserError):
    status = HTTPStatus.NOT_FOUND

    def __init__(self, filename: str, folder: str) -> None:
        super().__init__(
            _(
                "The content of “%(file)s” is not in the files folder "
                "%(folder)s. It may have been added on another computer or "
                "removed by hand. Add the file again.",
                file=filename,
                folder=folder,
            )
        )


class FileNotInTrashError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, filename: str) -> None:
        super().__init__(
            _(
                "“%(file)s” is not in the trash, so it was not removed for "
                "good. Delete it first, then remove it from the trash.",
                file=filename,
            )
        )


# --- backup and restore -------------------------------------------------


class BackupNotFoundError(UserError):
    status = HTTPStatus.NOT_FOUND

    def __init__(self, path: str) -> None:
        super().__init__(
            _(
                "The backup file %(path)s was not found. Check the folder and "
                "the file name, then try again.",
                path=path,
            )
        )


class BackupExistsError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, path: str) -> None:
        super().__init__(
            _(
                "%(path)s already exists, so no backup was written. Choose "
                "another file name, or move the old file away first.",
                path=path,
            )
        )


class BackupWriteError(UserError):
    status = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            _(
                "The backup could not be written to %(path)s (%(reason)s). "
                "Check that the folder exists, that you may write to it and "
                "that the disk has free space, or choose another backup folder.",
                path=path,
                reason=reason,
            )
        )


class BackupInFilesAreaError(UserError):
    def __init__(self, path: str, files_dir: str) -> None:
        super().__init__(
            _(
                "%(path)s is inside the files area %(files)s, which every "
                "backup copies and every restore replaces, so no backup was "
                "written. Choose a backup folder outside it.",
                path=path,
                files=files_dir,
            )
        )


class BackupRejectedError(UserError):
    """A backup file failed the checks made before anything is replaced."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, problem: str) -> None:
        super().__init__(
            join_sentences(
                [
                    problem,
                    _("Nothing was restored, and your current data is unchanged."),
                ]
            )
        )


class BackupUnreadableError(BackupRejectedError):
    def __init__(self, name: str) -> None:
        super().__init__(
            _(
                "“%(name)s” is not a zip file, or it is damaged or cut short "
                "(perhaps copying it did not finish). Use a complete copy of "
                "the backup.",
                name=name,
            )
        )


class BackupForeignError(BackupRejectedError):
    def __init__(self, name: str) -> None:
        super().__init__(
            _(
                "“%(name)s” is not an R9 CRM backup: it has no R9 CRM backup "
                "manifest. Choose a file written by the Backup page or by "
                "r9crm backup.",
                name=name,
            )
        )


class BackupUnsafeEntryError(BackupRejectedError):
    def __init__(self, name: str, entry: str) -> None:
        super().__init__(
            _(
                "“%(name)s” contains the entry “%(entry)s”, whose path would "
                "lead outside the folder the backup is unpacked into. Use a "
                "backup written by R9 CRM.",
                name=name,
                entry=entry,
            )
        )


class BackupManifestError(BackupRejectedError):
    def __init__(self, name: str, field: str) -> None:
        super().__init__(
            _(
                "The manifest of “%(name)s” is invalid: its field “%(field)s” is "
                "missing or has a wrong value. Use a backup written by R9 CRM.",
                name=name,
                field=field,
            )
        )


class BackupMismatchError(BackupRejectedError):
    def __init__(self, name: str, entry: str) -> None:
        super().__init__(
            _(
                "“%(name)s” does not match its own manifest at the entry "
                "“%(entry)s” (missing, repeated or not listed), so it was "
                "changed or cut short after it was written. Use another copy "
                "of the backup.",
                name=name,
                entry=entry,
            )
        )


class BackupDamagedError(BackupRejectedError):
    def __init__(self, name: str, entry: str) -> None:
        super().__init__(
            _(
                "The entry “%(entry)s” in “%(name)s” is damaged: its content "
                "differs from what was recorded when the backup was written. "
                "Use another copy of the backup.",
                name=name,
                entry=entry,
            )
        )


class BackupTooNewError(BackupRejectedError):
    def __init__(self, name: str, version: int, latest: int) -> None:
        super().__init__(
            _(
                "“%(name)s” was written by a newer version of R9 CRM (database "
                "version %(version)s; this version has %(latest)s). Install "
                "the newer R9 CRM, then restore it.",
                name=name,
                version=version,
                latest=latest,
            )
        )


class BackupFormatError(BackupRejectedError):
    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            _(
                "“%(name)s” uses backup format %(version)s, which this version "
                "of R9 CRM cannot read. Install the newer R9 CRM, then restore "
                "it.",
                name=name,
                version=version,
            )
        )


class BackupTooLargeError(BackupRejectedError):
    status = HTTPStatus.INSUFFICIENT_STORAGE

    def __init__(self, name: str, needed_mb: int, free_mb: int, folder: str) -> None:
        super().__init__(
            _(
                "Unpacking “%(name)s” needs %(needed)s MB, but the data folder "
                "%(folder)s has only %(free)s MB free. Free up space on that "
                "disk, then try again.",
                name=name,
                needed=needed_mb,
                free=free_mb,
                folder=folder,
            )
        )


class BackupTooManyEntriesError(BackupRejectedError):
    def __init__(self, name: str, count: int, limit: int) -> None:
        super().__init__(
            _(
                "“%(name)s” has %(count)s entries, more than the %(limit)s a "
                "backup may have. Use a backup written by R9 CRM.",
                name=name,
                count=count,
                limit=limit,
            )
        )


class BackupUnpackError(BackupRejectedError):
    status = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, folder: str, reason: str) -> None:
        super().__init__(
            _(
                "The backup could not be unpacked into %(folder)s (%(reason)s). "
                "Check that the disk has free space and that you may write "
                "there, then try again.",
                folder=folder,
                reason=reason,
            )
        )


class BackupUploadTooLargeError(UserError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE

    def __init__(self, limit_mb: int, folder: str) -> None:
        super().__init__(
            _(
                "The backup file is larger than %(limit)s MB, the most this "
                "page can receive, so nothing was restored. Copy it into the "
                "backup folder %(folder)s and restore it from the list there, "
                "or run r9crm restore with the file.",
                limit=limit_mb,
                folder=folder,
            )
        )


# --- the shared server of a team network ----------------------------------


class ServerUnreachableError(UserError):
    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, host: str, port: int, seconds: int) -> None:
        super().__init__(
            _(
                "No MySQL server answered at %(host)s port %(port)s within "
                "%(seconds)s seconds. Check the address and port, that the "
                "server is running, and that its firewall lets this computer in.",
                host=host,
                port=port,
                seconds=seconds,
            )
        )


class ServerRefusedError(UserError):
    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            _(
                "The computer at %(host)s refused the connection on port "
                "%(port)s, so no MySQL server listens there. Check the port "
                "(MySQL's default is 3306), that the MySQL server is running, "
                "and that it accepts connections from the network (its "
                "bind-address setting).",
                host=host,
                port=port,
            )
        )


class ServerHostNotFoundError(UserError):
    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            _(
                "The server name %(host)s could not be found, so port %(port)s "
                "was not tried. Check the spelling of the name, or type the "
                "server's IP address instead, such as 192.0.2.10.",
                host=host,
                port=port,
            )
        )


class ServerAccessDeniedError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, host: str, user: str) -> None:
        super().__init__(
            _(
                "The MySQL server at %(host)s rejected the MySQL user "
                "“%(user)s”: the user name or password is wrong, or this user "
                "may not connect from this computer. Check both, or ask whoever "
                "runs the server to grant access.",
                host=host,
                user=user,
            )
        )


class ServerDatabaseDeniedError(UserError):
    """MySQL error 1044: a missing database or one the user has no rights on.

    MySQL returns this error in both cases to a user without rights on
    the name, so the message names both. ``account`` is the account the
    server matched, as 'user'@'host' from CURRENT_USER(), when known.
    """

    status = HTTPStatus.FORBIDDEN

    def __init__(self, host: str, database: str, user: str, account: str = "") -> None:
        cases = _(
            "The MySQL server at %(host)s did not let the user “%(user)s” open "
            "the database “%(database)s”. Either no database has that name, "
            "so check the spelling, or the user has no rights on it.",
            host=host,
            database=database,
            user=user,
        )
        if account:
            grant = _(
                "To give the rights, run on the server: GRANT ALL ON "
                "`%(database)s`.* TO %(account)s;",
                database=database,
                account=account,
            )
        else:
            grant = _(
                "To give the rights, run on the server: GRANT ALL ON "
                "`%(database)s`.* TO '%(user)s'@'%%'; and if this MySQL user "
                "was created for one host, write that host in place of the %% "
                "after @.",
                database=database,
                user=user,
            )
        super().__init__(join_sentences([cases, grant]))


class ServerDatabaseMissingError(UserError):
    status = HTTPStatus.NOT_FOUND

    def __init__(self, host: str, database: str, user: str) -> None:
        super().__init__(
            _(
                "The MySQL server at %(host)s has no database “%(database)s” "
                "that the user “%(user)s” can see. Check the spelling, or create "
                "it on the server: CREATE DATABASE `%(database)s` CHARACTER SET "
                "utf8mb4 COLLATE utf8mb4_bin;",
                host=host,
                database=database,
                user=user,
            )
        )


class ServerCharsetError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str, charset: str) -> None:
        super().__init__(
            _(
                "The database “%(database)s” on %(host)s uses the character set "
                "%(charset)s, which loses Chinese characters and emoji. On the "
                "server run: ALTER DATABASE `%(database)s` CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_bin; then test the connection again.",
                host=host,
                database=database,
                charset=charset,
            )
        )


class ServerTooOldError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, version: str) -> None:
        super().__init__(
            _(
                "The server at %(host)s runs version %(version)s, which is too "
                "old for R9 CRM. Upgrade it to MySQL 5.7 or newer, or MariaDB "
                "10.3 or newer.",
                host=host,
                version=version,
            )
        )


class ServerForeignTablesError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str, tables: str) -> None:
        super().__init__(
            _(
                "The database “%(database)s” on %(host)s already holds tables "
                "of another program (%(tables)s). Create an empty database for "
                "R9 CRM and enter its name instead.",
                host=host,
                database=database,
                tables=tables,
            )
        )


class ServerNotPreparedError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str) -> None:
        super().__init__(
            _(
                "The database “%(database)s” on %(host)s is not prepared as a "
                "shared server yet. Your team's admin opens Network in R9 CRM "
                "and clicks Prepare server.",
                host=host,
                database=database,
            )
        )


class ServerNeedsUpgradeError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str, found: int, needed: int) -> None:
        super().__init__(
            _(
                "The database “%(database)s” on %(host)s has schema version "
                "%(found)s, and this R9 CRM needs version %(needed)s. Your "
                "team's admin opens Network in this version of R9 CRM and clicks "
                "Prepare server to upgrade it.",
                host=host,
                database=database,
                found=found,
                needed=needed,
            )
        )


class ServerSchemaTooNewError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str, found: int, known: int) -> None:
        super().__init__(
            _(
                "The database “%(database)s” on %(host)s was prepared by a newer "
                "R9 CRM (schema version %(found)s; this copy knows up to "
                "%(known)s). Update R9 CRM on this computer, then try again.",
                host=host,
                database=database,
                found=found,
                known=known,
            )
        )


class ServerAdminRequiredError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, host: str, database: str) -> None:
        super().__init__(
            _(
                "The database “%(database)s” on %(host)s already has "
                "administrators, and none has that name and password. Only one "
                "of them may prepare it: type the name and password of one of "
                "its administrators, or ask your team's admin.",
                host=host,
                database=database,
            )
        )


class ServerAdminPasswordError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, name: str, host: str, database: str) -> None:
        super().__init__(
            _(
                "The password is wrong for “%(name)s”, an administrator of the "
                "database “%(database)s” on %(host)s. Check the keyboard's "
                "language and Caps Lock and try again.",
                name=name,
                host=host,
                database=database,
            )
        )


class NetworkSignInError(UserError):
    status = HTTPStatus.UNAUTHORIZED

    def __init__(self, host: str, database: str) -> None:
        super().__init__(
            _(
                "The network user name or password is wrong for the database "
                "“%(database)s” on %(host)s. Check the keyboard's language and "
                "Caps Lock and try again, or ask your team's admin.",
                host=host,
                database=database,
            )
        )


class NetworkUserDisabledError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, name: str, host: str) -> None:
        super().__init__(
            _(
                "The network user “%(name)s” is disabled on the server at "
                "%(host)s. Ask your team's admin to enable it.",
                name=name,
                host=host,
            )
        )


class NetworkAdminOnlyError(UserError):
    status = HTTPStatus.FORBIDDEN

    def __init__(self, name: str, host: str) -> None:
        super().__init__(
            _(
                "Only an administrator of the server at %(host)s manages network "
                "users, and “%(name)s” is not one. Ask your team's admin.",
                name=name,
                host=host,
            )
        )


class NetworkNotConfiguredError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self) -> None:
        super().__init__(
            _(
                "This computer has no shared server set up, or no network user "
                "signed in. Open Network, fill in the server, save it and sign "
                "in as your network user."
            )
        )


class NetworkPasswordsLostError(UserError):
    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, key_file: str) -> None:
        super().__init__(
            _(
                "The saved passwords for the server at %(host)s cannot be read "
                "on this computer, because the key file %(key)s is missing or "
                "differs (for example after restoring a backup on another "
                "computer). Open Network and type the MySQL password and your "
                "network password again.",
                host=host,
                key=key_file,
            )
        )


class WorkingLiveError(UserError):
    """The app's own database is the shared server, so it has no sync."""

    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str) -> None:
        super().__init__(
            _(
                "This copy works directly on the shared server "
                "%(host)s/%(database)s, so there is nothing to upload or "
                "download.",
                host=host,
                database=database,
            )
        )


class WorkingLiveSettingsError(UserError):
    """A shared server was to be saved or signed in to on the shared server."""

    status = HTTPStatus.CONFLICT

    def __init__(self, host: str, database: str) -> None:
        super().__init__(
            _(
                "This copy works directly on the shared server "
                "%(host)s/%(database)s, so it needs no saved server and no "
                "network sign-in, and nothing was saved.",
                host=host,
                database=database,
            )
        )


class DataFolderMissingError(UserError):
    """``r9crm sync`` was given a data folder that does not exist."""

    status = HTTPStatus.NOT_FOUND

    def __init__(self, folder: str) -> None:
        super().__init__(
            _(
                "The data folder %(folder)s does not exist, so it has no saved "
                "shared server, and nothing was created. Check the path given "
                "with --data-dir or CRM_DATA_DIR.",
                folder=folder,
            )
        )


class SyncNotAllowedError(UserError):
    """The network user lacks the right to upload or download."""

    status = HTTPStatus.FORBIDDEN

    def __init__(self, user: str, direction: str) -> None:
        if direction == "upload":
            message = _(
                "Network user %(user)s may not upload to the shared server. "
                "Ask your team's admin to allow uploads for you.",
                user=user,
            )
        else:
            message = _(
                "Network user %(user)s may not download from the shared server. "
                "Ask your team's admin to allow downloads for you.",
                user=user,
            )
        super().__init__(message)


class ReadOnlyRecordError(UserError):
    """The user may only read records others shared with them."""

    status = HTTPStatus.FORBIDDEN

    def __init__(self, name: str, owner: str) -> None:
        super().__init__(
            _(
                "“%(name)s” belongs to %(owner)s, who shared it with you to "
                "read only. Your changes were not saved; ask %(owner)s or your "
                "team's admin if it needs changing.",
                name=name,
                owner=owner,
            )
        )
