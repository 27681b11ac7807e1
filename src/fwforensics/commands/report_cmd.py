"""CLI commands of the reports area: `abuse` and `watch` (registered by ``cli`` with
``cli.add_command``; `analyze`'s output options live in ``cli`` itself).
"""
from __future__ import annotations

import click

SEVERITY_CHOICE = click.Choice(["info", "low", "medium", "high"])


@click.command("abuse")
@click.argument("src")
@click.argument("logs", nargs=-1)
@click.option("--case", "case_path", metavar="CASE.duckdb", help="Take the records from a case.")
@click.option("--format", "fmt", metavar="NAME")
@click.option("--year", type=int)
@click.option("--tz", metavar="ZONE", help="Time zone of timestamps that carry none (default UTC).")
@click.option("--online", is_flag=True, help="Look up the abuse contact by RDAP (cached on disk).")
@click.option("--from", "reporter", default="", metavar="NAME", help="Your name/contact for the signature.")
@click.option("--home-net", multiple=True, metavar="CIDR",
              help="A network that is 'us' (repeatable), as for analyze. Inferred when not given.")
@click.option("--outside-if", multiple=True, metavar="NAME", help="An interface facing the Internet (repeatable).")
@click.option("--config", metavar="FILE", help="TOML config, as for analyze (default ~/.config/fwforensics/config.toml).")
def abuse_cmd(src, logs, case_path, fmt, year, tz, online, reporter, home_net, outside_if, config):
    """Draft a polite abuse report about SRC from LOGS (or --case)."""
    import ipaddress

    from .. import analysis, events
    from ..reports.abuse import draft
    from ..reports.who import OfflineError, rdap_abuse
    try:
        ipaddress.ip_address(src)
    except ValueError:
        raise click.UsageError(f"{src!r} is not an IP address") from None
    if not logs and not case_path:
        raise click.UsageError("give the log files that show SRC, or --case CASE.duckdb")
    from ..cli import _options   # (the same options, config file and checks as analyze)
    opts = _options(fmt, year, tz, home_net, outside_if, config, (), False)
    if case_path:
        from ..store import Case
        case = Case(case_path, read_only=not logs)
        if logs:
            case.ingest(list(logs), fmt, year, tz)
        con = case.con
        rep = analysis.report(con, case.read_stats(), opts)
    else:
        con = events.connect()
        rep = analysis.analyze(list(logs), opts, con)
    contact, err = None, None
    if online:
        try:
            contact = rdap_abuse(src)
        except OfflineError as e:
            err = str(e)
            click.echo(f"fwforensics: {e}", err=True)
    else:
        err = "not looked up (use --online to ask RDAP; nothing is sent without it)"
    click.echo(draft(rep, con, src, contact=contact, contact_error=err, reporter=reporter, tz_note=tz or "UTC"),
               nl=False)


@click.command("watch")
@click.argument("log", required=False)
@click.option("--journal", is_flag=True, help="Follow journalctl -k -f instead of a file.")
@click.option("--state", "state_path", required=True, metavar="FILE", help="Where to keep our place (created if missing).")
@click.option("--format", "fmt", metavar="NAME")
@click.option("--window", type=float, default=600.0, show_default=True, help="Seconds of log time the detectors see.")
@click.option("--max-rows", type=int, default=20_000, show_default=True,
              help="At most this many of the newest records in the window (bounds memory and detection time).")
@click.option("--rate-limit", type=float, default=60.0, show_default=True, help="At most one alert per source per N seconds.")
@click.option("--realert", type=float, default=3600.0, show_default=True, help="Repeat an alert for the same finding after N seconds.")
@click.option("--syslog", metavar="local|HOST:PORT|/path", help="Also send alerts to syslog.")
@click.option("--webhook", metavar="URL", help="POST each alert as JSON to this URL.")
@click.option("--command", "command", metavar="CMD", help="Run CMD (split like a shell, not run by one) with the alert JSON on stdin.")
@click.option("--quiet", is_flag=True, help="No alerts on the terminal.")
@click.option("--events-out", metavar="FILE.ndjson", help="Append every record as ECS NDJSON.")
@click.option("--home-net", multiple=True, metavar="CIDR")
@click.option("--min-severity", type=SEVERITY_CHOICE, default="info", show_default=True)
@click.option("--once", is_flag=True, help="Read what is there, alert, and exit.")
def watch_cmd(log, journal, state_path, fmt, window, max_rows, rate_limit, realert, syslog, webhook, command, quiet,
              events_out, home_net, min_severity, once):
    """Follow LOG (or the kernel journal) and alert on findings as they happen."""
    import shlex

    from .. import watch
    rc = watch.run(log, state_path, journal=journal, fmt=fmt, window=window, rate_limit=rate_limit,
                   realert=realert, syslog=syslog, webhook=webhook, command=shlex.split(command) if command else None,
                   quiet=quiet, events_out=events_out, home_nets=list(home_net), min_severity=min_severity,
                   once=once, max_rows=max_rows)
    if rc:
        raise click.exceptions.Exit(rc)
