"""Which links the server may fetch for a user: public http(s) addresses only (SSRF guard).

An import makes the server itself open the link (yt-dlp in the downloader), so a user
could point it at what only the server can reach: ``http://127.0.0.1:5432``, the cloud
metadata service at ``169.254.169.254``, a printer on the office LAN. :func:`check_url`
refuses any link that is not http(s), and any host that resolves to an address that is not
globally routable: loopback, private, link-local, multicast, reserved, unspecified, shared
(CGNAT) and documentation ranges, in IPv4 and IPv6, including IPv4 addresses hidden inside
IPv6 ones (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64). Every address the name resolves to
must pass, so a name with one public and one private address is refused.

The check resolves the name once, in a thread (``getaddrinfo`` blocks), with a timeout. It
does not pin the address for the download that follows, so a hostile DNS server could
answer differently a second time (DNS rebinding), and a public page may redirect to a
private one; the guard stops the plain cases and scanning, not a determined attacker with
a DNS server of their own. Operators who import from their LAN on purpose set
``SOUNDFORGE_ALLOW_PRIVATE_URLS`` (``Settings.allow_private_urls``), which skips the
address check but not the scheme check::

    await check_url("https://www.youtube.com/watch?v=...", allow_private=False)  # passes
    await check_url("http://10.0.0.7/song.mp3", allow_private=False)  # raises PrivateAddress
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import urlsplit

from soundforge.errors import SoundForgeError

__all__ = [
    "PRIVATE_MESSAGE",
    "PrivateAddress",
    "UnreachableHost",
    "UnsupportedLink",
    "check_url",
    "is_public",
]

PRIVATE_MESSAGE: Final = "this server does not import from private network addresses"
#: Seconds a name may take to resolve before the link is refused.
RESOLVE_TIMEOUT: Final = 10.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``getaddrinfo(host, port)``'s signature, injectable for tests.
Resolver = Callable[[str, int], Iterable[Any]]

# Prefixes that embed an IPv4 address the packet may end up at.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsupportedLink(SoundForgeError):
    """Not an http(s) link with a host name."""

    status = 422


class PrivateAddress(SoundForgeError):
    """The link's host is (or resolves to) an address that is not public."""

    status = 422


class UnreachableHost(SoundForgeError):
    """The link's host name does not resolve."""

    status = 422


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable unicast (and so may be fetched)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
        if address in _NAT64_LOCAL:
            return False
    refused = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )
    return not refused and address.is_global


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo's server, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is where packets go
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host_and_port(url: str) -> tuple[str, int]:
    text = url.strip()
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise UnsupportedLink("the link contains control characters; paste it again")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UnsupportedLink(f"{_short(text)} is not a valid web address") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsupportedLink(
            f"only http and https links can be imported, not {scheme or 'this'} links"
        )
    host = parts.hostname
    if not host:
        raise UnsupportedLink(f"{_short(text)} has no host name; paste the whole address")
    return host, port or (443 if scheme == "https" else 80)


async def check_url(
    url: str,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    timeout: float = RESOLVE_TIMEOUT,
) -> None:
    """Raise UnsupportedLink, UnreachableHost or PrivateAddress (all 422) unless the server
    may fetch ``url``; ``allow_private`` skips the address check."""
    host, port = _host_and_port(url)
    if allow_private:
        return
    for address in await _addresses(host, port, resolver or _getaddrinfo, timeout):
        if not is_public(address):
            raise PrivateAddress(PRIVATE_MESSAGE)


async def _addresses(host: str, port: int, resolver: Resolver, timeout: float) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.to_thread(resolver, host, port)
    except TimeoutError:
        raise UnreachableHost(f"the host {host} did not resolve in time; try again") from None
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; IDNA errors are Unicode
        raise UnreachableHost(f"the host {host} cannot be found; check the link") from None
    addresses: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        try:
            # An IPv6 sockaddr's host may carry a zone ("fe80::1%eth0"): drop it.
            addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise UnreachableHost(f"the host {host} has no internet address; check the link")
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _getaddrinfo(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."
