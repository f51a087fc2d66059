"""Fixtures: a running simulated server, a python-telegram-bot client pointed at it, and one simulated user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi() as server:
        yield server


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


@pytest.fixture
def user(api: LocalBotApi) -> SimUser:
    return api.user(USER_ID, "花子", "山田", username="hanako")
