"""CLI commands ``explain`` and ``decode`` (registered by the lead with ``cli.add_command``)."""
from __future__ import annotations

import json
import sys

import click

from fwforensics.explain import explain as _explain, group_args

_MAX_INPUT = 1_000_000  # bytes of hex dump read from a file or stdin


def _safe(text: str) -> str:
    """Never print control characters from untrusted input."""
    return "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in text)


@click.command("explain")
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the answers as JSON (one list).")
@click.option("-v", "--verbose", is_flag=True, help="Show the details under each one-line answer.")
def explain_cmd(query: tuple[str, ...], as_json: bool, verbose: bool) -> None:
    """Say what a port, ICMP type, address, RPC number, TTL, IP ID run, term, finding id or log line means.

    \b
    Examples:
      fwforensics explain 31337 31789/udp "sport 61000"
      fwforensics explain icmp 3/4 "ICMP port 11" 169.254.3.4
      fwforensics explain rpc 100083 rpc proc 5 ttl 112
      fwforensics explain ipid 64769 65025 65281 2
      fwforensics explain smurf scan.decoy
      fwforensics explain 'Nov 22 03:00:01 fw kernel: [UFW BLOCK] IN=eth0 ... PROTO=UDP SPT=137 DPT=137 ...'
    """
    answers: list[dict] = []
    for q in group_args(list(query)):
        answers.extend(_explain(q))
    if as_json:
        click.echo(json.dumps(answers, indent=2, default=str, ensure_ascii=False))
        return
    for a in answers:
        click.echo(_safe(a["short"]) + f"  [{a['certainty']}]")
        if verbose:
            for line in a["detail"]:
                click.echo("    " + _safe(line))
            click.echo("")
    if answers and all(a["kind"] == "unknown" for a in answers):
        click.get_current_context().exit(1)


@click.command("decode")
@click.argument("hexdump", nargs=-1)
@click.option("-f", "--file", "path", type=click.Path(dir_okay=False, allow_dash=True), help="Read the hex dump from a file ('-' = stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the decode as JSON.")
def decode_cmd(hexdump: tuple[str, ...], path: str | None, as_json: bool) -> None:
    """Decode a packet from a hex dump (Ethernet or IP), as printed by sniffers and the FAQ.

    The dump may have an offset column and an ASCII column. Give it as arguments, with
    -f FILE, or on standard input. ICMP errors get their quoted header decoded; NetBIOS
    name-service packets get their encoded name and query type decoded.
    """
    from fwforensics.decode import DecodeError, decode as _decode, render   # (dpkt: only for this command)
    if hexdump:
        text = " ".join(hexdump)
        if len(hexdump) == 1 and "\n" in hexdump[0]:
            text = hexdump[0]
    elif path:
        with click.open_file(path, "rb") as fh:
            text = fh.read(_MAX_INPUT).decode("utf-8", "replace")
    else:
        if sys.stdin.isatty():
            raise click.UsageError("give a hex dump as argument, with -f FILE, or on stdin")
        text = click.get_binary_stream("stdin").read(_MAX_INPUT).decode("utf-8", "replace")
    try:
        res = _decode(text)
    except DecodeError as exc:
        raise click.ClickException(f"nothing to decode: {exc}") from None
    if as_json:
        click.echo(json.dumps(res, indent=2, default=str))
    else:
        click.echo("\n".join(_safe(line) for line in render(res).split("\n")))
