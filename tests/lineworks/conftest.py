"""Fixtures for the LINE WORKS client and simulator: an RSA key pair made here, a fake clock whose sleep advances
it (no wall-clock waits), the simulator on that clock, a client pointed at it, and a callback receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.lineworks.client import LineWorksClient
from simulator.lineworks import LineWorksSimulator

START = 1_800_000_000.0  # a whole minute of unix time, so the simulator's rate-limit minutes start here
USER = "user-0001"


@dataclass
class KeyPair:
    private: rsa.RSAPrivateKey
    public_pem: bytes


def new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(key, public)


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return new_key_pair()


class FakeClock:
    """Unix seconds that move only when someone sleeps (or a test moves them); every sleep is recorded."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(keys: KeyPair, clock: FakeClock) -> AsyncIterator[LineWorksSimulator]:
    async with LineWorksSimulator(public_key=keys.public_pem, clock=clock, sleep=clock.sleep) as server:
        yield server


def client_for(sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock, **options: Any) -> LineWorksClient:
    settings: dict[str, Any] = {
        "bot_id": sim.bot_id,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "service_account": sim.service_account,
        "private_key": keys.private,
        "api_base_url": sim.api_base_url,
        "auth_url": sim.auth_url,
        "clock": clock,
        "wall_clock": clock,
        "sleep": clock.sleep,
    }
    settings.update(options)
    return LineWorksClient(**settings)


@pytest.fixture
async def client(sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock) -> AsyncIterator[LineWorksClient]:
    async with client_for(sim, keys, clock) as lw:
        yield lw


@dataclass
class Received:
    bot_id: str | None
    signature: str | None
    content_type: str | None
    body: bytes


@dataclass
class Receiver:
    """The bot's callback URL: records each POST and answers the statuses in `answers` in turn, then 200."""

    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        headers = request.headers
        self.received.append(
            Received(
                headers.get("x-works-botid"),
                headers.get("x-works-signature"),
                headers.get("content-type"),
                await request.read(),
            )
        )
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


@pytest.fixture
async def receiver(sim: LineWorksSimulator) -> AsyncIterator[Receiver]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/lineworks/{bot_id}", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}/lineworks/{sim.bot_id}"
    sim.callback_url = target.url
    try:
        yield target
    finally:
        await runner.cleanup()
