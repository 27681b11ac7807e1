"""Shared pieces of the service-log detectors (DNS, HTTP, SMTP, RPC).

These detectors read ``app_proto``/``app_detail``/``app_status``, which the service-log
readers (named, dnsmasq, web_access, mail, rpcbind) and the capture reader (decoded
payloads) fill with the same spellings, so one query covers logs and captures.
"""
from __future__ import annotations


def per_source(ctx, fid: str, where: str, src_expr: str = "src_ip", *, summary, severity=None,
               explanation: str, advice: str, details=None, limit_targets: int = 50) -> list:
    """One finding per source for the records matching ``where``; deterministic order.

    ``summary``/``severity``/``details`` may be callables taking the group row (src, n, hosts,
    first_port) and returning the value.
    """
    t = ctx.table
    rows = ctx.query(f"""
        SELECT {src_expr} AS src, count(*) AS n, count(DISTINCT dst_ip) AS hosts
        FROM {t} WHERE {where}
        GROUP BY {src_expr}
        ORDER BY {src_expr}""")
    out = []
    for r in rows:
        src = r["src"]
        cond = f"({where}) AND " + (f"{src_expr} = {ctx.lit(src)}" if src is not None else f"{src_expr} IS NULL")
        targets = [x["d"] for x in ctx.query(
            f"SELECT DISTINCT dst_ip AS d FROM {t} WHERE {cond} AND dst_ip IS NOT NULL ORDER BY d LIMIT {limit_targets}")]
        ports = [x["p"] for x in ctx.query(
            f"SELECT DISTINCT dst_port AS p FROM {t} WHERE {cond} AND dst_port IS NOT NULL ORDER BY p LIMIT 20")]
        det = details(ctx, cond, r) if callable(details) else (details or {})
        sev = severity(ctx, cond, r, det) if callable(severity) else severity
        out.append(ctx.finding(fid, src, cond, summary=summary(r, det), severity=sev, targets=targets, ports=ports,
                               details=det, explanation=explanation, advice=advice))
    return out


def distinct_values(ctx, cond: str, expr: str, limit: int = 20) -> list:
    return [x["v"] for x in ctx.query(
        f"SELECT DISTINCT {expr} AS v FROM {ctx.table} WHERE {cond} AND {expr} IS NOT NULL ORDER BY v LIMIT {int(limit)}")]


# A DNS query record (not an answer going back to the client): answers carry an rcode and
# come from port 53 to a client port.
DNS_QUERY = ("app_proto = 'dns' AND app_detail IS NOT NULL AND NOT (COALESCE(src_port, -1) IN (53, 5353) "
             "AND COALESCE(dst_port, -1) NOT IN (53, 5353) AND app_status IS NOT NULL)")
