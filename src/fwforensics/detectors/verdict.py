"""verdict: the reading of the whole log for a person (S-VERDICT, FAQ 12.1).

Exactly one finding, id ``verdict``, always emitted (also for a log with nothing in it):
how much of the log is internet background radiation and of which kinds, what looks aimed at
this site, and what needs doing. ``severity`` is the highest severity among the findings that
need action (``info`` when none do). The count is the number of records in the log; the
evidence lists the files and line spans read, not every line.
"""
from __future__ import annotations

import re
from array import array

import numpy as np

from ..findings import SEVERITY_RANK, Evidence, Finding
from . import _misc as m

IDS = ("verdict",)
ORDER = 100

# Tunables
AIMED_MIN_SEVERITY = "medium"   # severity from which an "aimed" finding counts as needing action;
                                # lower to "low" to be told about every targeted scan
TUNABLES = ("AIMED_MIN_SEVERITY",)

# what each finding id means for "is somebody out to get me?"
BACKGROUND = {
    "netbios.nbstat": "NetBIOS name lookups", "trojan.probe": "trojan port probes",
    "dialup.leftover": "leftover traffic for a previous address holder", "worm.slammer": "SQL Slammer",
    "worm.mssql": "MS SQL worms", "worm.telnet": "telnet worms (Mirai)", "worm.fileshare": "file-sharing worms", "worm.http": "web worms",
    "proxy.scan": "open-proxy hunting", "scan.horizontal": "sweeps of one port", "ping.sweep": "ping sweeps",
    "icmp.unreach_backscatter": "backscatter from attacks on others", "dns.stale": "late DNS answers",
    "broadcast.local": "neighbours' broadcasts", "broadcast.directed": "broadcast probing",
    "icmp.echo_reply_unsolicited": "unsolicited echo replies", "bogon.source": "impossible source addresses",
    "port.zero": "port 0 probes", "icmp.timestamp": "timestamp requests", "icmp.addr_mask": "address-mask requests",
    "rpc.portmap": "portmapper probes", "smtp.relay_attempt": "spam relay attempts",
    "http.proxy_attempt": "proxy requests to the web server",
}
AIMED = {
    "scan.vertical": "port scans of single hosts", "scan.block": "scans of many ports on many hosts",
    "scan.decoy": "decoy scans", "sscan": "sscan runs", "scan.fin": "FIN scans", "scan.null": "NULL scans",
    "scan.xmas": "XMAS scans", "scan.ack": "ACK scans", "scan.udp": "UDP scans", "scan.syn": "SYN scans",
    "traceroute.unix": "traceroutes towards you", "traceroute.windows": "traceroutes towards you",
    "source_route": "source-routed packets", "icmp.redirect": "ICMP redirects",
    "icmp.router_advert": "router advertisements", "icmp.param_problem": "parameter-problem probes",
    "icmp.source_quench": "source quench", "dns.axfr": "zone transfer attempts",
    "dns.version_query": "DNS version queries", "smtp.recon": "mail server reconnaissance",
    "smurf": "smurf attacks using you as amplifier", "fraggle": "fraggle attacks using you as amplifier",
    "flood": "denial-of-service floods",
}
ACTION = {   # ids that need doing something whatever their severity
    "config.advice", "icmp.frag_needed", "identd.blocked", "smurf", "fraggle",
}
# scans: from a host of our own, they are a sign of that host, not of an attack on us
SCANS = {"scan.vertical", "scan.block", "scan.horizontal", "scan.fin", "scan.null", "scan.xmas", "scan.ack",
         "scan.udp", "scan.syn", "scan.decoy", "ping.sweep", "proxy.scan", "sscan"}
OWN_SCANNER = ("find the machine with that address, check it for malware and who uses it, and hold its "
               "outgoing traffic until it is clean")
NEAR_SCANNER = ("that machine shares the capture's network segment: if it is yours, check it for malware and "
                "who uses it; if the segment is shared (the outside one, a provider's, a hotel's), tell whoever "
                "runs it")
SILENT = {"verdict", "host.link", "traceroute.from_inside", "dns.unexpected_source"}
# a smurf's or fraggle's source is its forged victim: it aimed nothing at us
AMPLIFIED = ("smurf", "fraggle")
# the SYN or UDP finding of a one-port sweep holds the records of its scan.horizontal finding,
# which is background: it follows it (stealth flavours of a sweep stay aimed: nobody sends those
# by accident)
PLAIN_FLAVOURS = {"scan.syn", "scan.udp"}
# a traceroute whose routers' answers were logged too is one run from our side; without a home
# net (a capture) the same source also looks like a traceroute towards us: it is not counted so
TRACES = {"traceroute.unix", "traceroute.windows"}


def _kinds(fs, table):
    names: dict[str, int] = {}
    for f in fs:
        label = table.get(f.id, f.id)
        names[label] = names.get(label, 0) + f.count
    return sorted(names.items(), key=lambda x: (-x[1], x[0]))


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    # unreachables answering a traceroute of our own are explained by it, not background radiation
    fs = [f for f in ctx.findings if f.id not in SILENT and not f.suppressed
          and not (f.id == "icmp.unreach_backscatter" and f.details.get("reason") == "traceroute")]
    own_traces = sorted({f.src for f in ctx.findings if f.id == "traceroute.from_inside" and f.src
                         and not f.suppressed})
    total = ctx.query(f"SELECT count(*) AS n, min(ts) AS a, max(ts) AS b FROM {t}")[0]
    n_all = int(total["n"] or 0)
    floor = SEVERITY_RANK.get(str(ctx.tun(me, "AIMED_MIN_SEVERITY")), 2)
    # (a finding whose sender must share the capture's segment, an ARP sweep, is from inside whatever
    # the home net)
    inside = lambda f: bool(f.src and (f.details.get("local") or (ctx.home_nets and m.home_ip(ctx, f.src))))   # noqa: E731
    # an inside host scanning others is not aimed at us: it is infected or misused (below)
    scanning = [f for f in fs if f.id in SCANS and inside(f)]
    scans_inside = {id(f) for f in scanning}   # (by identity: no field-by-field comparison per finding)
    # an inside host doing worm things is infected: that needs action, and is not background noise
    infected = [f for f in fs if f.id.startswith("worm.") and inside(f)]
    mine = scans_inside | {id(f) for f in infected}
    background = [f for f in fs if f.id in BACKGROUND and id(f) not in mine]
    aimed = [f for f in fs if f.id in AIMED and id(f) not in mine and not _sweep_flavour(f)
             and not (f.id in TRACES and not ctx.home_nets and f.src in own_traces)]
    other = [f for f in fs if f.id not in BACKGROUND and f.id not in AIMED and f.id not in ACTION]
    # an impossible source that scanned us is that scan's forged address, not background radiation
    aimers = {f.src for f in aimed if f.src and f.id not in AMPLIFIED}
    forged = sorted({f.src for f in background if f.id == "bogon.source" and f.src in aimers})
    background = [f for f in background if not (f.id == "bogon.source" and f.src in aimers)]
    action = [f for f in fs if f.id in ACTION or f in infected or id(f) in scans_inside
              or (f.id in AIMED and SEVERITY_RANK.get(f.severity, 0) >= floor)
              or (f.id == "trojan.probe" and f.details.get("passed"))]
    bg_records = min(_distinct_records(background), n_all)
    site = "this site" if ctx.home_nets else "hosts in this log"   # (no home net: which side is ours is unknown)
    # (nor did a decoy that a decoy scan's real sender forged, unless it did something of its own)
    decoys = _decoys(aimed)
    aimed_srcs = sorted(aimers - decoys.keys())
    floods = [f for f in aimed if f.id == "flood"]   # (said on their own, ahead of the other aimed kinds)

    # (scans' details.answers; dns.stale's "answers" is a count of something else). Only scans from
    # outside, and only hosts of ours when the home nets are known: what a host of ours reached
    # when it scanned out is said in its own finding
    def ours(hp: str) -> bool:
        return not ctx.home_nets or m.home_ip(ctx, hp.rsplit(":", 1)[0].strip("[]"))
    opened = sorted({x for f in fs if f.id in SCANS and id(f) not in scans_inside
                     and isinstance(f.details.get("answers"), dict)
                     for x in f.details["answers"].get("open", []) if ours(x)})
    if own_traces and not (action or aimed or background):
        summary = ("Nothing aimed at you: the records recognised answer traceroutes run from your side."
                   if ctx.home_nets else "Only traceroutes and the routers' answers to them were recognised; "
                   "which side ran them is not known without a home net.")
    elif not fs:
        summary = (f"Nothing recognised in {m.plural(n_all, 'record')}: no scans, worms or misconfigurations stand out."
                   if n_all else "The log holds no records.")
    elif floods:
        hit = sorted({f.targets[0] for f in floods if f.targets})
        summary = (f"A denial-of-service flood is aimed at {', '.join(hit[:3])}{' and others' if len(hit) > 3 else ''}"
                   f"; {m.plural(len(action), 'finding')} {'needs' if len(action) == 1 else 'need'} action.")
    elif action:
        summary = (f"{m.plural(len(action), 'finding')} {'needs' if len(action) == 1 else 'need'} action"
                   + (f"; {_share_of(bg_records, n_all)} everyday internet background noise."
                      if bg_records else "."))
    elif aimed:
        found = f" and found {m.plural(len(opened), 'open service')}" if opened else ""
        summary = (f"Someone looked at {site} on purpose ({m.plural(len(aimed_srcs), 'source')}){found}, but "
                   f"nothing got in that the log shows" + ("; the rest is background noise." if bg_records else "."))
    elif background:
        summary = ("Only internet background radiation was recognised: what every address receives, "
                   "not an attack on you.")
    else:
        summary = "Nothing aimed at you was recognised."

    parts = []
    if background:
        kinds = ", ".join(f"{k} ({v})" for k, v in _kinds(background, BACKGROUND)[:6])
        share = f"About {100.0 * bg_records / n_all:.0f}%" if n_all else "All"
        if n_all and 100.0 * bg_records / n_all < 0.5:
            share = "Under 1%"
        parts.append(f"{share} of the records ({bg_records}) are internet background radiation: {kinds}. "
                     f"It reaches every address and says nothing about you.")
    amp = [f for f in aimed if f.id in AMPLIFIED]
    aimed = [f for f in aimed if f.id not in AMPLIFIED]
    if amp:
        parts.append(f"Your network was used as an amplifier (smurf/fraggle) against "
                     f"{', '.join(sorted({f.src for f in amp if f.src}))}: the victims are those addresses, "
                     f"not you, but the attack needs your routers to pass directed broadcasts.")
    aimed = [f for f in aimed if f.id != "flood"]
    if floods:
        hit = "; ".join(f"{f.targets[0]} ({f.details.get('proto') or 'IP'}"
                        f"{' port ' + ', '.join(map(str, f.ports)) if f.ports else ''}, {f.count} packets at about "
                        f"{f.details.get('packets_per_second', 0):.0f} a second from {f.details.get('sources', 0)} "
                        f"{'forged ' if f.details.get('kind') == 'forged' else 'reflecting ' if f.details.get('kind') == 'reflected' else ''}sources)"
                        for f in floods[:5]) + ("; and more" if len(floods) > 5 else "")
        parts.append(f"Flooded (denial of service): {hit}. This is an attack on you; if it fills your line, "
                     f"only your provider can filter it.")
    if aimed:
        kinds = ", ".join(f"{k} ({v})" for k, v in _kinds(aimed, AIMED)[:6])
        whose = "" if ctx.home_nets else " (which of them are yours is not known)"
        # (a record is often of several kinds: a SYN scan's records are also its port scan's. They
        # are not counted once here: over a big log the union of the scans' line ranges is tens of
        # megabytes, which would set the run's peak memory)
        several = len({AIMED.get(f.id, f.id) for f in aimed}) > 1
        parts.append(f"Aimed at {site}{whose}"
                     f"{' (records counted in each of their kinds)' if several else ''}: "
                     f"{kinds}"
                     + (f", from {', '.join(aimed_srcs[:5])}{' and others' if len(aimed_srcs) > 5 else ''}"
                        if aimed_srcs else " (from many sources, in findings that group them)")
                     + ". Scans map what is open; a firewall that "
                     f"dropped them did its job."
                     + (f" {', '.join(forged)} cannot be a real sender there (see bogon.source): the scan's "
                        f"source address was forged, and its answers went nowhere." if forged else ""))
    # what the scanned hosts answered, where the input holds it (a capture): what the scanners learned
    if opened:
        parts.append(f"The scanned hosts answered as open on {', '.join(opened[:8])}"
                     f"{' and others' if len(opened) > 8 else ''}: the scanners now know of those services.")
    if decoys:
        by_real: dict[str, list[str]] = {}
        for d, real in sorted(decoys.items()):
            by_real.setdefault(real, []).append(d)
        parts.append("Forged decoys, left out of the sources above: " + "; ".join(
            f"{real} also sent its scan under {', '.join(ds[:5])}{' and others' if len(ds) > 5 else ''}"
            for real, ds in sorted(by_real.items())) + ". Their owners most likely sent nothing; "
            "do not report them.")
    if infected:
        parts.append(f"Hosts of your own network behave like worms: {', '.join(sorted({f.src for f in infected}))}.")
    home = {f.src for f in scanning if ctx.home_nets and m.home_ip(ctx, f.src)}
    near = sorted({f.src for f in scanning} - home)   # (ARP sweepers not known to be ours)
    if scanning:
        kinds = ", ".join(f"{k} ({v})" for k, v in _kinds(scanning, {**AIMED, **BACKGROUND})[:4])
        # (an ARP sweep's sender shares the capture's segment: ours when inside the home net, else a
        # neighbour on the segment, such as the outside one a firewall shares with its provider)
        who = " and ".join(x for x in (f"hosts of your own network ({', '.join(sorted(home))})" if home else "",
                                       f"hosts on the capture's own network segment ({', '.join(near)})"
                                       if near else "") if x)
        parts.append(f"{who[0].upper()}{who[1:]} scan others ({kinds}). A machine that does this is infected "
                     f"or misused; the targets and ports in the findings say what it is after.")
    if own_traces:
        who = f"{', '.join(own_traces[:5])}{' and others' if len(own_traces) > 5 else ''}"
        parts.append(f"Traceroutes run from your side: {who}; the routers' and targets' answers were logged, "
                     f"nothing to worry about." if ctx.home_nets else
                     f"Traceroutes by {who}, with the routers' answers to them: without a home net it is not "
                     f"known whether they were run from your side or aimed at it (give --home-net).")
    fixes = [f for f in action if f.id == "config.advice"] or \
        [f for f in action if f.id in ("icmp.frag_needed", "identd.blocked")]
    if fixes:
        parts.append("Configuration problems: " + "; ".join(sorted({f.summary.split(':')[0] for f in fixes})) + ".")
    if other:
        parts.append("Also: " + ", ".join(sorted({f.id for f in other})) + ".")
    if not parts:
        parts.append("No finding stands out." if n_all else "Nothing was read.")
    if ctx.failures:
        failed = ", ".join(d["detector"] for d in ctx.failures)
        parts.append(f"This reading is incomplete: the {failed} detector{'s' if len(ctx.failures) > 1 else ''} "
                     f"failed, so what {'they look' if len(ctx.failures) > 1 else 'it looks'} for is not in it "
                     "and it may understate what happened (the error is in the report; please report it).")
    explanation = " ".join(parts)

    if action:
        todo = []
        covered = {f.details.get("topic") for f in action if f.id == "config.advice"}
        for f in sorted(action, key=Finding.sort_key):
            if f.id != "config.advice" and f.details.get("advice_topic") in covered:
                continue
            if len(todo) >= 6:
                break
            what = ((OWN_SCANNER if f.src in home else NEAR_SCANNER) if id(f) in scans_inside else OWN_SCANNER
                    if id(f) in mine else (f.advice or f.summary).split('. ')[0].rstrip('.'))
            todo.append(f"{f.id}{' (' + f.src + ')' if f.src else ''}: {what}")
        advice = "; ".join(todo) + "."
        if opened:
            advice += (f" Also check that the services that answered the scans ({', '.join(opened[:5])}"
                       f"{' and others' if len(opened) > 5 else ''}) are meant to be reachable.")
    elif opened:
        advice = (f"Check that {'the service that' if len(opened) == 1 else 'each service that'} answered the "
                  f"scans ({', '.join(opened[:5])}{' and others' if len(opened) > 5 else ''}) is meant to be "
                  "reachable from where the scans came, and read its log; beyond that, do not chase or retaliate "
                  "against the sources, which are mostly infected or forged machines.")
    else:
        advice = ("Nothing needs doing. Keep the firewall dropping unsolicited traffic; do not chase or "
                  "retaliate against the sources, which are mostly infected or forged machines.")

    sev = max((f.severity for f in action), key=lambda s: SEVERITY_RANK.get(s, 0), default="info")
    files = ctx.query(f"SELECT source_file, min(line) AS a, max(line) AS b FROM {t} "
                      f"WHERE source_file IS NOT NULL GROUP BY source_file ORDER BY source_file")
    ev = Evidence(records=n_all, files={r["source_file"]: f"{r['a']}-{r['b']}" for r in files}, samples=[])
    return [Finding(
        id="verdict", severity=sev, src=None, summary=summary, explanation=explanation, advice=advice,
        targets=len(aimed_srcs), ports=[], first_seen=total["a"], last_seen=total["b"], count=n_all,
        evidence=ev,
        details={"background_records": bg_records, "background": dict(_kinds(background, BACKGROUND)),
                 "aimed": dict(_kinds(aimed, AIMED)), "aimed_sources": aimed_srcs,
                 "needs_action": [{"id": f.id, "src": f.src, "severity": f.severity}
                                  for f in sorted(action, key=Finding.sort_key)],
                 "infected_inside": sorted({f.src for f in infected}),
                 "scanning_inside": sorted({f.src for f in scanning}),
                 # (of those, the ones known only to share the capture's segment: ARP sweepers outside
                 # the home net, or with no home net known)
                 "scanning_segment": near,
                 "forged_decoys": dict(sorted(decoys.items())),
                 "open_answers": opened})]


def _sweep_flavour(f) -> bool:
    return f.id in PLAIN_FLAVOURS and f.details.get("shape") == "horizontal"


def _share_of(part: int, whole: int) -> str:
    """"12 of the 40 records are", "all 3 records are", "the one record is"."""
    if part == whole:
        return "the one record is" if whole == 1 else f"all {whole} records are"
    return f"{part} of the {whole} records {'is' if part == 1 else 'are'}"


def _decoys(aimed) -> dict[str, str]:
    """Sources whose every aimed finding is marked (by decoys.py) as a decoy of a decoy scan whose
    real sender is named: source -> that sender."""
    real: dict[str, str | None] = {}
    for f in aimed:
        if not f.src or f.id in AMPLIFIED or f.id == "scan.decoy":
            continue
        g = f.details.get("decoy_group") or {}
        mine = g.get("real_source") if g.get("role") == "decoy" else None
        real[f.src] = mine if real.get(f.src, mine) == mine else None
    return {s: r for s, r in real.items() if r}


def _distinct_records(fs) -> int:
    """Records behind a set of findings, each counted once (findings overlap), from their evidence.
    Each finding's ranges text is parsed at once (numpy, no Python object per span: the aimed
    findings of a 1 M-line log list ~250 k spans) into one integer array per file, each span
    packed as ``start << 32 | end`` and sorted in place: 8 bytes a span, no tuple, no index array
    (the background findings of a 10 M-line log hold ~0.5 M spans)."""
    packed: dict[str, array] = {}
    limit: dict[str, int] = {}   # merge a file's spans again past this many (twice the last union)
    wide: dict[str, list[tuple[int, int]]] = {}   # (line numbers of 2**31 and over: kept apart)
    for f in fs:
        for file, ranges in f.evidence.files.items():
            for piece in _pieces(ranges):
                lo, hi = _spans(piece)
                out = packed.setdefault(file, array("q"))
                small = hi < 1 << 31
                out.frombytes(((lo[small] << 32) | hi[small]).tobytes())
                if not small.all():
                    wide.setdefault(file, []).extend(zip(lo[~small].tolist(), hi[~small].tolist()))
                if len(out) > limit.get(file, MERGE_SPANS):   # (the scans of a 10 M-line log list millions)
                    packed[file] = out = _merged(out)
                    limit[file] = max(MERGE_SPANS, 2 * len(out))
    total = 0
    for file, out in packed.items():
        v = np.frombuffer(out, np.int64) if out else np.empty(0, np.int64)
        total += _union_length(v, wide.pop(file, None))
    for extra in wide.values():
        total += _union_length(np.empty(0, np.int64), extra)
    return total


MERGE_SPANS = 1 << 19   # a file's collected spans are merged into disjoint ones past this many
                        # (8 bytes each: 4 MB), so that memory follows the union, not the findings


PIECE_CHARS = 1 << 16   # a ranges text is parsed this many characters at a time (its parse holds
                        # ~12 bytes a character: one finding of a 10 M-line log lists megabytes;
                        # with pieces of 1 MB the background's union over it peaked at 39 MB, 8 MB now)


def _pieces(ranges: str):
    """``ranges`` cut at commas into pieces of about PIECE_CHARS characters."""
    pos, n = 0, len(ranges)
    while pos < n:
        cut = ranges.find(",", pos + PIECE_CHARS) if n - pos > PIECE_CHARS else -1
        yield ranges[pos:cut if cut >= 0 else n]
        pos = cut + 1 if cut >= 0 else n


def _merged(out: array) -> array:
    """The packed spans ``out`` as the fewest disjoint packed spans covering the same lines."""
    v = np.frombuffer(out, np.int64)
    v.sort()   # (in place: ``out`` is replaced by the result)
    a = v >> 32
    b = np.maximum.accumulate(v & 0xFFFFFFFF)
    new = np.empty(len(v), bool)
    new[0] = True
    new[1:] = a[1:] > b[:-1] + 1            # a span that starts past every line before (and not next to it)
    starts = a[new]
    ends = b[np.append(np.flatnonzero(new)[1:] - 1, len(v) - 1)]
    merged = array("q")
    merged.frombytes(((starts << 32) | ends).tobytes())
    return merged


def _spans(ranges: str):
    """(starts, ends) of a line ranges text such as ``1-40,52,60-61``, as int64 arrays: the numbers
    in order, and from the separators between them which number starts a range (followed by ``-``)
    and which ends one (after ``-``); a number that does neither is a range of one line."""
    text = ranges.strip()
    if not text or not _RANGES.fullmatch(text):
        empty = np.empty(0, np.int64)
        return empty, empty
    nums = np.fromstring(text.replace("-", ","), dtype=np.int64, sep=",")
    raw = np.frombuffer(text.encode("ascii"), np.uint8)
    dash = raw[(raw == 44) | (raw == 45)] == 45   # the separator after each number but the last
    starts = np.append(dash, False)
    ends = np.insert(dash, 0, False)
    one = ~(starts | ends)
    return nums[starts | one], nums[ends | one]


_RANGES = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")


def _union_length(v, extra) -> int:
    """Lines covered by the spans ``v`` (packed ``start << 32 | end``, sorted here in place) and
    the (start, end) pairs ``extra``."""
    if extra:
        a = np.concatenate((v >> 32, np.array([lo for lo, _ in extra], np.int64)))
        b = np.concatenate((v & 0xFFFFFFFF, np.array([hi for _, hi in extra], np.int64)))
        order = np.argsort(a, kind="stable")
        a, b = a[order], b[order]
    elif len(v):
        v.sort()   # by start, then end (the order of equal starts does not change the sum below)
        a = v >> 32
        b = np.bitwise_and(v, 0xFFFFFFFF, out=v)
    else:
        return 0
    np.maximum.accumulate(b, out=b)   # the furthest end so far
    # the union is the whole stretch minus the gaps between a span's start and every end before it
    first = int(a[0])
    gaps = np.subtract(a[1:], b[:-1], out=a[1:])
    gaps -= 1
    np.clip(gaps, 0, None, out=gaps)
    return int(b[-1] - first + 1 - gaps.sum())
