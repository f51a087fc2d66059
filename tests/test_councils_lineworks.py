"""`fieldbot council add` for a council on LINE WORKS: its bot's plain settings in its own settings, its secrets as
files of its folder readable by its owner only (given as files or environment variables, never as values), all or
nothing; a deployment's LINE WORKS bot is never a council's."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.councils import council_settings, folder
from bot.lineworks.client import MinuteBudget
from bot.settings import Settings, lineworks_settings, load_settings
from cli.serve import budget_of
from simulator.lineworks import make_key_pair
from tests.terminal import Cli, cli_fixture

BOT_SECRET = "BOTSECRET-lw-4471"
CLIENT_SECRET = "CLIENTSECRET-lw-9902"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    runs = cli_fixture(tmp_path, monkeypatch)
    run = next(runs)
    monkeypatch.setenv("COUNCILS_DIR", str(tmp_path / "councils"))
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.org")
    yield run


def _files(tmp_path: Path) -> dict[str, str]:
    private, _ = make_key_pair()
    paths = {"bot": tmp_path / "bot.secret", "key": tmp_path / "lineworks.pem"}
    paths["bot"].write_text(BOT_SECRET + "\n", encoding="utf-8")
    paths["key"].write_bytes(private)
    return {name: str(path) for name, path in paths.items()}


def _lineworks_args(files: dict[str, str]) -> list[str]:
    return [
        "--lineworks-bot-id",
        "2000123",
        "--lineworks-client-id",
        "client-abc",
        "--lineworks-service-account",
        "svc@council.example",
        "--lineworks-bot-secret-file",
        files["bot"],
        "--lineworks-client-secret-from",
        "KITA_LW_CLIENT_SECRET",
        "--lineworks-private-key-file",
        files["key"],
    ]


def test_a_council_on_lineworks_keeps_its_secrets_as_private_files(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITA_LW_CLIENT_SECRET", CLIENT_SECRET)
    done = cli("council", "add", "kita", "--name", "北区社協", *_lineworks_args(_files(tmp_path)), "--set",
               "ADMIN_LINEWORKS_IDS=admin@council.example")  # fmt: skip
    assert done.code == 0, done.err
    settings = load_settings()
    where = folder(settings, "kita")
    for name in ("lineworks.bot_secret", "lineworks.client_secret", "lineworks.key"):
        assert stat.S_IMODE((where / name).stat().st_mode) == 0o600
    own = (where / "council.env").read_text(encoding="utf-8")
    assert "LINEWORKS_BOT_ID=2000123" in own and BOT_SECRET not in own and CLIENT_SECRET not in own
    bot = lineworks_settings(council_settings(settings, "kita"))
    assert bot is not None
    assert (bot.bot_id, bot.bot_secret, bot.client_secret, bot.admins) == (
        "2000123",
        BOT_SECRET,
        CLIENT_SECRET,
        ("admin@council.example",),
    )
    assert bot.private_key.startswith(b"-----BEGIN")


def test_a_partial_lineworks_bot_or_a_bad_key_is_refused_and_leaves_nothing(cli: Cli, tmp_path: Path) -> None:
    files = _files(tmp_path)
    partial = cli("council", "add", "kita", "--name", "北区社協", "--lineworks-bot-id", "2000123")
    assert "LINEWORKS_CLIENT_ID" in partial.one_error()
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key", encoding="utf-8")
    args = _lineworks_args(files)
    args[args.index("--lineworks-client-secret-from") : args.index("--lineworks-client-secret-from") + 2] = [
        "--lineworks-client-secret-file",
        files["bot"],
    ]
    args[-1] = str(bad_key)
    assert "秘密鍵" in cli("council", "add", "kita", "--name", "北区社協", *args).one_error()
    unset = cli("council", "add", "kita", "--name", "北区社協", *_lineworks_args(files))
    assert "KITA_LW_CLIENT_SECRET" in unset.one_error()  # the variable named holds nothing
    assert not folder(load_settings(), "kita").exists()


def test_a_council_never_inherits_the_deployments_lineworks_bot(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEWORKS_BOT_ID", "2000999")
    monkeypatch.setenv("ADMIN_LINEWORKS_IDS", "someone@deployment.example")
    assert cli("council", "add", "kita", "--name", "北区社協").code == 0
    own = council_settings(load_settings(), "kita")
    assert own.lineworks_bot_id is None and own.admin_lineworks_ids == []


def test_councils_of_one_lineworks_app_share_one_minute_budget() -> None:
    def council(client: str | None, bot: str | None = "2000001") -> Settings:
        return load_settings(_env_file=None, lineworks_bot_id=bot, lineworks_client_id=client, lineworks_per_minute=240)

    budgets: dict[str, MinuteBudget] = {}
    kita, minami, other = (budget_of(council(c), budgets) for c in ("city-app", "city-app", "other-app"))
    assert kita is not None and kita is minami and other is not None and other is not kita
    assert kita.per_minute == 240
    assert budget_of(council(None, bot=None), budgets) is None  # a council on Telegram alone
