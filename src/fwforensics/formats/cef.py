"""ArcSight Common Event Format (``CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext``).

The extension is ``key=value`` pairs whose values may hold spaces (a value runs to the
next `` key=``); ``\\=`` is an escaped equals sign. Read: ``src``/``dst`` (and
``c6a2``/``c6a3`` IPv6), ``spt``/``dpt``, ``proto``, ``act``, ``deviceInboundInterface``,
``deviceOutboundInterface``, ``rt`` / ``end`` (epoch ms or ``MMM dd yyyy HH:mm:ss``),
``cs1`` when labelled as the rule. Events with no address at all are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import join
from ._fwbase import (LineFormat, action_word, actions, bsd_ts, epoch_ts, group, ips, matches, ports, proto_cols,
                      syslog_head)

_S = pa.string()
_HDR = (r"CEF:\d+\|(?P<vendor>(?:\\\||[^|])*)\|(?P<product>(?:\\\||[^|])*)\|(?:\\\||[^|])*\|(?P<sig>(?:\\\||[^|])*)\|"
        r"(?P<name>(?:\\\||[^|])*)\|(?P<sev>[^|]*)\|(?P<ext>.*)$")


def _val(ext: pa.Array, key: str) -> pa.Array:
    st = pc.extract_regex(ext, r"(?:^|\s)" + key + r"=(?P<v>(?:\\=|[^=])*?)(?:\s+[\w.\[\]]+=|\s*$)")
    return group(st, "v")


def _action(act_name: str) -> str:
    act, _, name = act_name.partition("|")
    a = action_word(act) if act else "other"
    if a != "other":
        return a
    n = name.lower()
    if "refuse" in n or "reject" in n:
        return "reject"
    return action_word(n) if any(w in n for w in ("discard", "drop", "deny", "block", "allow", "accept", "permit")) else "other"


class Cef(LineFormat):
    name = "cef"
    description = "ArcSight CEF (Common Event Format) events from any vendor"
    example = ("CEF:0|FORCEPOINT|Firewall|6.6.1|70019|Connection_Discarded|0|dvc=192.0.2.10 src=198.51.100.1 "
               "dst=192.0.2.156 spt=68 dpt=67 proto=17 rt=Jan 17 2020 08:56:21 cs1Label=RuleID cs1=605.0")

    def records(self, work):
        return matches(work, r"CEF:\d+\|.*\s(?:src|dst|c6a2|c6a3)=[0-9a-fA-F.:]")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"CEF:\d+\|"))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'^(?:<\d{1,3}>)?[^"|=]{0,120}?CEF:\d+\|'))

    def convert(self, rec, ctx: ParseContext):
        h = pc.extract_regex(rec, _HDR)
        ext = pc.fill_null(group(h, "ext"), "")
        head = syslog_head(rec, ctx)
        rt = pc.coalesce(_val(ext, "rt"), _val(ext, "end"))
        d = pc.extract_regex(pc.fill_null(rt, ""), r"^(?P<mon>\w{3}) (?P<day>\d\d?) (?P<year>\d{4}) (?P<hms>\d\d:\d\d:\d\d)")
        ts_text = bsd_ts(group(d, "mon"), group(d, "day"), group(d, "hms"), None, group(d, "year"), None, ctx)
        ts_epoch = epoch_ts(pc.if_else(matches(pc.fill_null(rt, ""), r"^\d{10,13}$"), rt, pa.scalar(None, _S)))
        cols = {"ts": pc.coalesce(ts_epoch, ts_text, head["ts"]), "ts_raw": pc.coalesce(rt, head["ts_raw"]),
                "log_host": pc.coalesce(_val(ext, "dvchost"), head["log_host"])}
        cols.update(proto_cols(_val(ext, "proto")))
        rule_label = pc.fill_null(pc.match_substring_regex(_val(ext, "cs1Label"), "(?i)rule"), False)
        cols.update({
            "src_ip": ips(pc.coalesce(_val(ext, "src"), _val(ext, "c6a2"))),
            "dst_ip": ips(pc.coalesce(_val(ext, "dst"), _val(ext, "c6a3"))),
            "src_port": ports(_val(ext, "spt")), "dst_port": ports(_val(ext, "dpt")),
            "in_if": _val(ext, "deviceInboundInterface"), "out_if": _val(ext, "deviceOutboundInterface"),
            "rule": pc.coalesce(pc.if_else(rule_label, _val(ext, "cs1"), pa.scalar(None, _S)), group(h, "name")),
            "action": actions(join(pc.fill_null(_val(ext, "act"), ""), "|", pc.fill_null(group(h, "name"), "")), _action),
        })
        return cols, pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))


FORMAT = Cef()
