"""Which addresses notification channels may post to."""

from __future__ import annotations

import ipaddress

import pytest

from sapwood.server.webhook_addresses import (
    AddressPolicy,
    resolved_refusal,
    url_refusal,
)

NONE = AddressPolicy()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:8080/hook", "a loopback"),
        ("http://127.9.9.9/", "a loopback"),
        ("http://[::1]/", "a loopback"),
        ("http://[::ffff:127.0.0.1]/", "a loopback"),
        ("http://2130706433/", "a loopback"),  # 127.0.0.1, as resolvers read it
        ("http://169.254.169.254/latest/meta-data", "a link-local"),
        ("http://[fe80::1]/", "a link-local"),
        ("http://10.1.2.3/", "a private"),
        ("http://172.16.0.1/", "a private"),
        ("http://172.31.255.255/", "a private"),
        ("http://192.168.1.1/", "a private"),
        ("http://[fc00::1]/", "a private"),
        ("http://[fd12:3456::1]/", "a private"),
        ("http://0.0.0.0/", "an unspecified"),
        ("http://224.0.0.1/", "a multicast"),
        ("http://[ff02::1]/", "a multicast"),
        ("http://100.64.0.1/", "a non-public"),
        ("https://localhost:8443/", None),
        ("http://api.localhost/", None),
    ],
)
def test_non_public_hosts_are_refused_naming_why(url: str, kind: str | None) -> None:
    refusal = url_refusal(url, NONE)
    assert refusal is not None
    assert (kind or "a loopback") in refusal
    assert "SAPWOOD_WEBHOOK_ALLOW" in refusal


@pytest.mark.parametrize(
    "url",
    ["https://hooks.slack.com/services/T0/B0/x", "http://8.8.8.8/", "http://[2606:4700::1111]/"],
)
def test_public_hosts_and_names_are_allowed(url: str) -> None:
    assert url_refusal(url, NONE) is None


def test_the_admin_allowance_lets_networks_and_names_through() -> None:
    policy = AddressPolicy.parse(["127.0.0.1/32", " 10.0.0.0/8", "hooks.internal.example"])
    assert url_refusal("http://127.0.0.1:9/", policy) is None
    assert url_refusal("http://localhost:9/", policy) is None
    assert url_refusal("http://10.20.30.40/", policy) is None
    assert url_refusal("http://127.0.0.2/", policy) is not None
    assert url_refusal("http://192.168.0.1/", policy) is not None
    private = [ipaddress.ip_address("192.168.0.9")]
    assert resolved_refusal("hooks.internal.example", private, policy) is None


def test_a_name_resolving_to_any_refused_address_is_refused() -> None:
    addresses = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.5")]
    refusal = resolved_refusal("hooks.example.com", addresses, NONE)
    assert refusal is not None
    assert refusal.startswith("hooks.example.com resolves to 10.0.0.5, a private address")


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "http://x/", "a_b.example"])
def test_a_malformed_allowance_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(ValueError, match="SAPWOOD_WEBHOOK_ALLOW") as error:
        AddressPolicy.parse([entry])
    assert repr(entry) in str(error.value)
