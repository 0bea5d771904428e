"""``soundforge.web.urlguard``: which links the server may open for a user.

Unit tests with an injected resolver (no DNS); ``test_imports`` checks the route with the
real one.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import pytest

from soundforge.web.urlguard import (
    PRIVATE_MESSAGE,
    PrivateAddress,
    UnreachableHost,
    UnsupportedLink,
    check_url,
    is_public,
)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "2a00:1450:4001::200e",
     "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1",  # loopback, private
        "169.254.169.254",  # link-local: cloud metadata
        "100.64.0.1",  # shared (CGNAT)
        "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1",  # documentation, benchmarks
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1",
        "2001:db8::1",  # documentation
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
        "2002:7f00:1::1", "2002:a00:1::",  # 6to4 around loopback, private
        "64:ff9b::7f00:1", "64:ff9b:1::1",  # NAT64
        "::127.0.0.1",  # IPv4-compatible (deprecated)
    ],
)  # fmt: skip
def test_addresses_that_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def resolver(*addresses: str) -> Any:
    def resolve(host: str, port: int) -> list[Any]:
        infos = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            infos.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return infos

    return resolve


def never(host: str, port: int) -> list[Any]:
    raise AssertionError(f"{host} should not have been resolved")


async def test_a_name_with_public_addresses_passes() -> None:
    await check_url("https://media.example/song.mp3", resolver=resolver("93.184.216.34"))
    await check_url("http://v6.example/", resolver=resolver("2606:2800:220:1::1"))


@pytest.mark.parametrize(
    "addresses",
    [("127.0.0.1",), ("93.184.216.34", "10.0.0.8"), ("fe80::1%eth0",), ("::ffff:192.168.0.1",)],
)
async def test_one_private_address_refuses_the_name(addresses: tuple[str, ...]) -> None:
    with pytest.raises(PrivateAddress) as raised:
        await check_url("http://rebind.example/a.mp3", resolver=resolver(*addresses))
    assert raised.value.message == PRIVATE_MESSAGE and raised.value.status == 422


async def test_literal_addresses_are_checked_without_resolving() -> None:
    with pytest.raises(PrivateAddress):
        await check_url("http://[::1]:8080/", resolver=never)
    with pytest.raises(PrivateAddress):
        await check_url("http://169.254.169.254/latest/", resolver=never)
    await check_url("http://8.8.8.8/", resolver=never)


async def test_allowing_private_addresses_skips_resolution() -> None:
    await check_url("http://127.0.0.1:9/song.mp3", allow_private=True, resolver=never)
    with pytest.raises(UnsupportedLink):
        await check_url("ftp://127.0.0.1/song.mp3", allow_private=True, resolver=never)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/a.mp3", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("http://", "no host name"),
        ("http://example.com:99999/", "not a valid web address"),
        ("http://exa\nmple.com/", "control characters"),
    ],
)
async def test_links_that_are_not_http_with_a_host(url: str, words: str) -> None:
    with pytest.raises(UnsupportedLink) as raised:
        await check_url(url, resolver=never)
    assert words in raised.value.message and raised.value.status == 422


async def test_a_name_that_does_not_resolve() -> None:
    def fails(host: str, port: int) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UnreachableHost, match="cannot be found"):
        await check_url("http://nowhere.invalid/", resolver=fails)
    with pytest.raises(UnreachableHost, match="no internet address"):
        await check_url("http://empty.example/", resolver=resolver())


async def test_a_slow_resolver_times_out() -> None:
    def slow(host: str, port: int) -> list[Any]:
        time.sleep(0.3)
        return resolver("93.184.216.34")(host, port)

    with pytest.raises(UnreachableHost, match="did not resolve in time"):
        await check_url("http://slow.example/", resolver=slow, timeout=0.05)
