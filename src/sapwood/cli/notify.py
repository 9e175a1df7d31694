"""`sapwood notify`: a team's notification channels, rules, test posts and delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import typer

from sapwood.cli.output import format_age, format_table, print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import Channel, Delivery, NotificationEvent, Rule

app = typer.Typer(
    name="notify", help="Notifications: channels, rules and the delivery log.", no_args_is_help=True
)
channels_app = typer.Typer(name="channels", help="Where notifications go.", no_args_is_help=True)
rules_app = typer.Typer(
    name="rules", help="Which events notify which channel.", no_args_is_help=True
)
app.add_typer(channels_app)
app.add_typer(rules_app)

EVENTS = ", ".join(e.value for e in NotificationEvent)


@channels_app.command("list")
def list_channels(team: str | None = TEAM_OPTION) -> None:
    """List the team's channels (secrets are never shown)."""
    with connect(team=team) as client:
        channels = client.list_channels()
    if channels:
        print_out(channel_table(channels))
    else:
        print_err("No channels: add one with `sapwood notify channels set`.")


@channels_app.command("set")
def set_channel(
    name: str = typer.Argument(..., help="the channel's name"),
    type: str = typer.Option(
        ..., "--type", help="slack (incoming webhook), webhook, slack-app or slack-dm"
    ),
    url: str | None = typer.Option(
        None, "--url", help="http(s) URL to post to (slack and webhook channels)"
    ),
    secret: str | None = typer.Option(
        None, "--secret", help="webhook HMAC-SHA256 key (write-only)"
    ),
    slack_channel: str | None = typer.Option(
        None,
        "--slack-channel",
        help="slack-app: the conversation the Slack app posts to (C0123ABCD or #name)",
    ),
    team: str | None = TEAM_OPTION,
) -> None:
    """Create or replace a channel."""
    with connect(team=team) as client:
        channel = client.set_channel(
            name, type=type, url=url, secret=secret, slack_channel=slack_channel
        )
    signed = ", signed" if channel.has_secret else ""
    print_out(f"channel/{channel.name} set ({channel.type.value}{signed})")


@channels_app.command("delete")
def delete_channel(
    name: str = typer.Argument(..., help="the channel's name"), team: str | None = TEAM_OPTION
) -> None:
    """Delete a channel no rule uses."""
    with connect(team=team) as client:
        client.delete_channel(name)
    print_out(f"channel/{name} deleted")


@rules_app.command("list")
def list_rules(team: str | None = TEAM_OPTION) -> None:
    """List the team's rules."""
    with connect(team=team) as client:
        rules = client.list_rules()
    if rules:
        print_out(rule_table(rules))
    else:
        print_err("No rules: add one with `sapwood notify rules set`.")


@rules_app.command("set")
def set_rule(
    name: str = typer.Argument(..., help="the rule's name"),
    channel: str = typer.Option(..., "--channel", help="the channel to notify"),
    events: str = typer.Option(..., "--events", help=f"comma-separated: {EVENTS}"),
    selector: str | None = typer.Option(None, "--selector", help="label selector, e.g. app=x"),
    threshold: float | None = typer.Option(
        None, "--threshold", help="underutilised: percent of the request (default 20)"
    ),
    duration: str | None = typer.Option(
        None, "--duration", help="underutilised: for how long, e.g. 30m (the default)"
    ),
    team: str | None = TEAM_OPTION,
) -> None:
    """Create or replace a rule."""
    names = [e.strip() for e in events.split(",") if e.strip()]
    with connect(team=team) as client:
        rule = client.set_rule(
            name,
            channel=channel,
            events=names,
            selector=selector,
            threshold=threshold,
            duration=duration,
        )
    line = f"rule/{rule.name} set: {', '.join(e.value for e in rule.events)} -> {rule.channel}"
    if "underutilised" in rule.events:
        minutes = int(rule.duration.total_seconds() // 60)
        line += f" (underutilised: under {rule.threshold:g}% for {minutes} min)"
    print_out(line)


@rules_app.command("delete")
def delete_rule(
    name: str = typer.Argument(..., help="the rule's name"), team: str | None = TEAM_OPTION
) -> None:
    """Delete a rule."""
    with connect(team=team) as client:
        client.delete_rule(name)
    print_out(f"rule/{name} deleted")


@app.command("test")
def send_test(
    channel: str = typer.Argument(..., help="the channel"), team: str | None = TEAM_OPTION
) -> None:
    """Post a sample notification to a channel now."""
    with connect(team=team) as client:
        delivery = client.test_channel(channel)
    if delivery.ok:
        print_out(f"channel/{channel}: delivered (HTTP {delivery.status_code})")
    else:
        print_err(
            f"channel/{channel}: failed after {delivery.attempt} attempt(s): {delivery.error}"
        )
        raise typer.Exit(1)


@app.command("deliveries")
def deliveries(
    team: str | None = TEAM_OPTION,
    limit: int = typer.Option(50, "--limit", help="how many attempts to show"),
) -> None:
    """Show the delivery log, newest first."""
    with connect(team=team) as client:
        entries = client.list_deliveries(limit=limit)
    if entries:
        print_out(delivery_table(entries, now=datetime.now(UTC)))
    else:
        print_err("Nothing delivered yet.")


def channel_table(channels: Sequence[Channel]) -> str:
    rows = [(c.name, c.type.value, _target(c), "yes" if c.has_secret else "-") for c in channels]
    return format_table(("NAME", "TYPE", "TO", "SIGNED"), rows)


def _target(channel: Channel) -> str:
    """Where a channel posts: its URL's host, the Slack app's conversation, or the owner."""
    if channel.url:
        return _short_url(channel.url)
    return channel.slack_channel or "each object's owner (Slack DM)"


def rule_table(rules: Sequence[Rule]) -> str:
    rows = [
        (r.name, r.channel, ",".join(e.value for e in r.events), r.selector or "-") for r in rules
    ]
    return format_table(("NAME", "CHANNEL", "EVENTS", "SELECTOR"), rows)


def delivery_table(entries: Sequence[Delivery], *, now: datetime) -> str:
    rows = [
        (
            format_age(d.time, now),
            d.channel,
            d.event,
            f"{d.kind.lower()}/{d.name}",
            str(d.attempt),
            str(d.status_code) if d.status_code is not None else "-",
            d.error or ("ok" if d.ok else "-"),
        )
        for d in entries
    ]
    return format_table(("AGE", "CHANNEL", "EVENT", "OBJECT", "ATTEMPT", "STATUS", "ERROR"), rows)


def _short_url(url: str) -> str:
    """Scheme and host only: the path of a Slack webhook URL is itself a credential."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/')[0].split('?')[0]}/…"
