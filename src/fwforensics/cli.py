"""Command line: fwforensics (alias fwf)."""
from __future__ import annotations

import json
import os
import sys
import tomllib
from typing import Any

import click

from . import __version__
from .reader import InputError


def _dump(obj: Any) -> None:
    from .reports.export import _default   # (dates as ISO text, a finding's PortRuns as its list)
    sys.stdout.write(json.dumps(obj, indent=2, default=_default, ensure_ascii=False) + "\n")


def _console():
    from rich.console import Console
    return Console(highlight=False, soft_wrap=False)


def _load_config(path: str | None) -> dict:
    if not path:
        default = os.path.expanduser("~/.config/fwforensics/config.toml")
        if not os.path.exists(default):
            return {}
        path = default
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise InputError(f"cannot read config {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config {path} is not valid TOML: {e}") from None


def _parse_sets(sets: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in sets:
        if "=" not in s or "." not in s.split("=", 1)[0]:
            raise InputError(f"--set wants MODULE.NAME=VALUE, got {s!r}")
        key, val = s.split("=", 1)
        mod, name = key.split(".", 1)
        try:
            v: Any = json.loads(val)
        except json.JSONDecodeError:
            v = val
        out.setdefault(mod, {})[name] = v
    return out


def _parse_suppress(items: tuple[str, ...]) -> list[dict]:
    rules = []
    for item in items:
        rule = {}
        for part in item.split(","):
            k, sep, v = part.partition("=")
            if not sep or k.strip() not in ("id", "src", "port", "net"):
                raise InputError(f"--suppress wants KEY=VALUE pairs with keys id, src, port, net; got {item!r}")
            rule[k.strip()] = v.strip()
        rules.append(rule)
    return rules


def _options(fmt, year, tz, home_net, outside_if, config, sets, progress, map_file=None):
    from .analysis import Options
    from .formats._common import resolve_tz
    cfg = _load_config(config)
    if tz:
        try:
            resolve_tz(tz)
        except Exception:
            raise InputError(f"unknown time zone {tz!r} (use a name such as Europe/Berlin or UTC)") from None
    det = {k: dict(v) for k, v in cfg.get("detectors", {}).items()}
    for mod, vals in _parse_sets(sets).items():
        det.setdefault(mod, {}).update(vals)
    if det:
        from .detectors import checked_tunables
        try:
            det = checked_tunables(det)
        except ValueError as e:
            raise InputError(f"{e} (from --set or the config file)") from None
    return Options(fmt=fmt, year=year, tz=tz or cfg.get("tz"),
                   home_nets=list(home_net) or list(cfg.get("home_net", [])),
                   outside_ifs=list(outside_if) or list(cfg.get("outside_if", [])),
                   cfg=det, suppress=list(cfg.get("suppress", [])), progress=progress,
                   mapping=_load_mapping(map_file))


_common = [
    click.option("--format", "fmt", metavar="NAME", help="Read the input as this format (see `formats`); default: detect."),
    click.option("--year", type=int, help="Year of the first record, for syslog lines that carry none."),
    click.option("--tz", metavar="ZONE", help="Time zone of timestamps that carry none (default UTC)."),
    click.option("--map", "map_file", metavar="FILE",
                 help="Column mapping for --format csv_generic/json_generic: TOML or JSON, schema column = input column."),
]


def _load_mapping(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"cannot read mapping {path}: {e.strerror}") from None
    try:
        m = json.loads(data) if path.endswith(".json") else tomllib.loads(data.decode("utf-8"))
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"mapping {path} is not valid {'JSON' if path.endswith('.json') else 'TOML'}: {e}") from None
    m = m.get("mapping", m) if isinstance(m, dict) else m
    if not isinstance(m, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in m.items()):
        raise InputError(f"mapping {path} must map schema columns to input column names (strings)")
    return m


def _apply(opts):
    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fwforensics")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def cli(debug: bool) -> None:
    """What am I seeing? Explains firewall logs and recognises the patterns behind them."""
    if debug:   # a detector's failure stops the run with its traceback instead of being reported
        from . import detectors
        detectors.RAISE_FAILURES = True


@cli.command()
@click.argument("inputs", nargs=-1)
@click.option("--case", "case_path", metavar="CASE.duckdb", help="Analyse the events of a case instead of (or as well as) files.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Where the detectors run; spark reads a Parquet dataset written by `ingest --parquet`.")
@click.option("--dataset", metavar="DIR", help="Parquet dataset (from `ingest --parquet DIR`) for --engine spark.")
@click.option("--master", metavar="URL", help="Spark master (default local[2]; e.g. spark://host:7077, yarn).")
@_apply(_common)
@click.option("--home-net", multiple=True, metavar="CIDR", help="A network that is 'us' (repeatable). Inferred when not given.")
@click.option("--outside-if", multiple=True, metavar="NAME", help="An interface facing the Internet (repeatable).")
@click.option("--config", metavar="FILE", help="TOML config (default ~/.config/fwforensics/config.toml).")
@click.option("--set", "sets", multiple=True, metavar="MOD.NAME=VALUE", help="Override a detector tunable.")
@click.option("--suppress", "suppress", multiple=True, metavar="KEY=VAL[,KEY=VAL]",
              help="Silence matching findings (keys id, src, port, net); they are counted, not shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (docs/report.schema.json).")
@click.option("--ndjson", "as_ndjson", is_flag=True, help="Print one finding per line (for log shippers).")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the report as Markdown (for tickets).")
@click.option("--html", "html_out", metavar="FILE", help="Also write a self-contained HTML report (charts, evidence).")
@click.option("--events-out", metavar="FILE", help="Also write the normalised events: .parquet, or .ndjson/.json with ECS names.")
@click.option("--fail-on", type=click.Choice(["info", "low", "medium", "high"]), metavar="SEVERITY",
              help="Exit with status 1 when a finding of this severity or higher is shown "
                   "(3, whatever this says, when a detector failed: the report is incomplete).")
@click.option("--resolve", is_flag=True, help="Look up reverse DNS names of the sources (tells their owners you looked).")
@click.option("-v", "--verbose", is_flag=True, help="Explanations, advice and evidence for every finding.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--timings", is_flag=True,
              help="Afterwards, print on standard error how long each phase and detector took, and the peak memory so far.")
def analyze(timings, **params):
    """Read logs (files, globs, directories, '-' for stdin) and report what they show."""
    if not timings:
        return _analyze(took=None, **params)
    from ._timing import phase
    took: list[tuple[str, float, float]] = []
    try:
        with phase(took, "total (start-up not included)"):
            return _analyze(took=took, **params)
    finally:
        sys.stdout.flush()
        width = max(len(name) for name, _, _ in took)
        click.echo("timings (wall seconds; the process's peak memory in MB when the phase ended):", err=True)
        for name, sec, mb in took:
            click.echo(f"  {name:<{width}}  {sec:8.2f}  {mb:6.0f}", err=True)


def _analyze(inputs, case_path, engine, dataset, master, fmt, year, tz, map_file, home_net, outside_if, config, sets,
             suppress, as_json, as_ndjson, as_markdown, html_out, events_out, fail_on, resolve, verbose, no_progress,
             took):
    from . import analysis, events
    if sum(bool(x) for x in (as_json, as_ndjson, as_markdown)) > 1:
        raise InputError("choose one of --json, --ndjson, --markdown")
    if engine == "spark":
        if not dataset or inputs or case_path:
            raise InputError("--engine spark reads a Parquet dataset: give --dataset DIR (written by `ingest --parquet DIR`)")
        from .engines.spark import SparkEngine
        from .reader import FileStats, ReadStats
        opts = _options(fmt, year, tz, home_net, outside_if, config, sets, False, map_file)
        opts.suppress += _parse_suppress(suppress)
        opts.timings = took
        eng = SparkEngine(dataset, master=master)
        stats = ReadStats([FileStats(path=dataset, format="parquet", records=eng.count())])
        stats.files[0].lines = stats.files[0].records
        rep = analysis.report(eng, stats, opts)
        if html_out:
            raise InputError("--html needs the DuckDB engine (its charts query the events table)")
        return _emit(rep, as_json, as_ndjson, as_markdown, fail_on, resolve, verbose, took)
    if not inputs and not case_path:
        raise InputError("nothing to analyse: give log files, '-' for standard input, or --case CASE.duckdb")
    size = analysis.input_bytes(list(inputs)) if inputs and not case_path else None
    if size is not None and size <= events.SPILL_BYTES:
        # a small log: the country/AS tables load while the log is read and analysed; a large one
        # loads them at the end, once DuckDB's memory is given back. (Only a run that makes their
        # compact copy, the first, needs ~0.7 s and ~110 MB for it; later ones map it in ~3 ms.)
        from .reports import who
        who.preload()
    progress = not no_progress and not (as_json or as_ndjson or as_markdown) and sys.stderr.isatty()
    opts = _options(fmt, year, tz, home_net, outside_if, config, sets, progress, map_file)
    opts.suppress += _parse_suppress(suppress)
    opts.timings = took
    if case_path:
        from .store import Case
        case = Case(case_path, read_only=not inputs)
        if inputs:
            case.ingest(list(inputs), fmt, year, opts.tz, mapping=opts.mapping)
        stats = case.read_stats()
        rep = analysis.report(case.con, stats, opts)
        _side_outputs(rep, case.con, html_out, events_out, resolve, took)
        case.close()
    else:
        opts.defer_raw = not events_out   # the events export writes every record's text
        opts.narrow = not events_out      # ... and every column
        con = events.connect()
        rep = analysis.analyze(list(inputs), opts, con, size=size,
                               then=lambda r, c: _side_outputs(r, c, html_out, events_out, resolve, took))
        con.close()   # the report is built: DuckDB's memory is not needed to print it
    return _emit(rep, as_json, as_ndjson, as_markdown, fail_on, resolve, verbose, took)


def _side_outputs(rep, con, html_out, events_out, resolve, took=None) -> None:
    """Files written besides the printed report (they need the events table)."""
    from ._timing import phase
    with phase(took if (html_out or events_out) else None, "--html / --events-out files"):
        if events_out:
            from .reports.export import write_events
            write_events(con, events_out)
        if html_out:
            from .reports import who
            from .reports.html import write_html
            if rep.get("records_read") and "who" not in rep:
                who.enrich(rep, resolve=resolve)
            write_html(rep, con, html_out)


def _emit(rep, as_json, as_ndjson, as_markdown, fail_on, resolve, verbose, took=None) -> int:
    """Print the report in the chosen form; the exit status for --fail-on."""
    from ._timing import phase
    from .reports import export, who
    with phase(took, "report (who is it, output)"):
        if rep.get("records_read") and "who" not in rep:
            rep = who.enrich(rep, resolve=resolve)
        if as_json:
            export.write_json(rep, sys.stdout)
        elif as_ndjson:
            export.write_ndjson(rep, sys.stdout)
        elif as_markdown:
            export.write_markdown(rep, sys.stdout)
        else:
            from .reports.terminal import render
            render(rep, _console(), verbose=verbose)
    return export.exit_status(rep, fail_on)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--case", "case_path", metavar="CASE.duckdb", help="The case file (created if missing).")
@click.option("--parquet", "parquet_dir", metavar="DIR",
              help="Instead of a case: write the events as a Parquet dataset partitioned by day (for --engine spark).")
@_apply(_common)
@click.option("--json", "as_json", is_flag=True)
def ingest(inputs, case_path, parquet_dir, fmt, year, tz, map_file, as_json):
    """Add logs to a case (a DuckDB file). Input already in the case is not added twice."""
    from .store import Case
    from .reports.text import clean
    if bool(case_path) == bool(parquet_dir):
        raise InputError("give exactly one of --case CASE.duckdb or --parquet DIR")
    if parquet_dir:
        from .engines.spark import write_parquet
        from .reader import ReadStats, read_events
        stats = ReadStats()
        n = write_parquet(read_events(list(inputs), stats=stats, fmt=fmt, year=year, tz=tz,
                                      mapping=_load_mapping(map_file)), parquet_dir)
        out = {"parquet": parquet_dir, "records_read": n, "records_unreadable": stats.records_unreadable,
               "files": [f.as_dict() for f in stats.files]}
        if as_json:
            _dump(out)
        else:
            click.echo(f"{clean(parquet_dir)}: {n} events written, {stats.records_unreadable} unreadable line(s)")
        return
    case = Case(case_path)
    try:
        results = case.ingest(list(inputs), fmt, year, tz, mapping=_load_mapping(map_file))
    finally:
        case.close()
    if as_json:
        _dump({"case": case_path, "records_read": sum(r.stats.records for r in results),
               "records_unreadable": sum(r.stats.unreadable_count for r in results),
               "files": [dict(r.stats.as_dict(), status=r.status) for r in results]})
        return
    con = _console()
    for r in results:
        s = r.stats
        con.print(f"{clean(r.path)}: {r.status}"
                  + (f" ({s.format}: {s.records} records, {s.unreadable_count} unreadable)" if r.status != "already in case" else ""),
                  markup=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def formats(as_json):
    """What can be read, with an example line of each."""
    from .formats import registry
    items = [{"name": f.name, "description": f.description, "binary": f.binary, "example": f.example}
             for f in sorted(registry().values(), key=lambda f: f.name)]
    if as_json:
        _dump(items)
        return
    con = _console()
    for it in items:
        con.print(f"{it['name']}: {it['description']}", markup=False)
        if it["example"]:
            con.print(f"    {it['example']}", markup=False, style="dim")


def _register_commands() -> None:
    """Commands that live in their own modules (explain, decode, abuse, watch)."""
    import importlib
    for mod, names in (("fwforensics.commands.explain_cmd", ("explain", "decode")),
                       ("fwforensics.commands.report_cmd", ("abuse", "watch"))):
        m = importlib.import_module(mod)
        for n in names:
            cli.add_command(getattr(m, f"{n}_cmd"), n)


_register_commands()

def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        rc = cli.main(args=argv, prog_name="fwforensics", standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("fwforensics: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("fwforensics: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # one clear line, never a traceback unless asked
        if debug:
            raise
        msg = str(e) if isinstance(e, (InputError, KeyError, ValueError, OSError)) else f"{type(e).__name__}: {e}"
        click.echo(f"fwforensics: error: {msg}", err=True)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
