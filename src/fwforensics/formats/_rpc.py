"""ONC RPC program numbers and portmapper procedures, shared by the capture and rpcbind readers.

Sources: program numbers and names from the ``/etc/rpc`` file of Debian's ``netbase``
package (itself descended from Sun's RPC distribution), plus the programs the Firewall
Forensics FAQ section 7.3 names (cmsd, ToolTalk, sadmind, snmpXdmid) with their
Sun-registered numbers (RFC 5531 appendix lists the assignment ranges).
"""
from __future__ import annotations

PROGRAMS: dict[int, str] = {
    100000: "portmapper", 100001: "rstatd", 100002: "rusersd", 100003: "nfs", 100004: "ypserv",
    100005: "mountd", 100007: "ypbind", 100008: "walld", 100009: "yppasswdd", 100010: "etherstatd",
    100011: "rquotad", 100012: "sprayd", 100013: "3270_mapper", 100014: "rje_mapper",
    100015: "selection_svc", 100016: "database_svc", 100017: "rexd", 100018: "alis", 100019: "sched",
    100020: "llockmgr", 100021: "nlockmgr", 100022: "x25.inr", 100023: "statmon", 100024: "status",
    100026: "bootparam", 100028: "ypupdated", 100029: "keyserv", 100037: "tfsd", 100038: "nsed",
    100039: "nsemntd", 100068: "cmsd", 100069: "ypxfrd", 100083: "ttdbserverd", 100227: "nfs_acl",
    100232: "sadmind", 100249: "snmpXdmid", 150001: "pcnfsd", 300019: "amd", 391002: "sgi_fam",
    545580417: "ugidd", 600100069: "fypxfrd", 788585389: "bwnfsd",
}
BY_NAME: dict[str, int] = {v.lower(): k for k, v in PROGRAMS.items()}
BY_NAME.update({"portmap": 100000, "rpcbind": 100000, "sunrpc": 100000, "rstat": 100001, "rusers": 100002,
                "mount": 100005, "ttdbserver": 100083, "tooltalk": 100083, "snmpxdmi": 100249,
                "statd": 100024, "lockd": 100021, "rpc.cmsd": 100068, "rpc.statd": 100024})

# Portmapper (v2) procedure numbers; rpcbind v3/v4 names in the second table.
PMAP_PROCS = {0: "NULL", 1: "SET", 2: "UNSET", 3: "GETPORT", 4: "DUMP", 5: "CALLIT"}
RPCB_PROCS = {0: "NULL", 1: "SET", 2: "UNSET", 3: "GETADDR", 4: "DUMP", 5: "CALLIT", 6: "GETTIME",
              7: "UADDR2TADDR", 8: "TADDR2UADDR", 9: "GETVERSADDR", 10: "INDIRECT", 11: "GETADDRLIST",
              12: "GETSTAT"}


def _from_knowledge() -> None:
    """Add the program names the knowledge base has and this table lacks (one source of truth
    for numbers we do not list; the names above stay as they are so queries keep working)."""
    try:
        from ..knowledge import kb
        progs = kb().rpc_programs()
    except Exception:  # knowledge base missing or broken: the table above still works
        return
    for num, p in progs.items():
        if num not in PROGRAMS and getattr(p, "name", None):
            PROGRAMS[num] = p.name
            BY_NAME.setdefault(p.name.lower(), num)


_loaded = False


def program_label(prog: int) -> str:
    """'sadmind (100232)' or the bare number when it has no registered name."""
    global _loaded
    if not _loaded:
        _loaded = True
        _from_knowledge()
    name = PROGRAMS.get(prog)
    return f"{name} ({prog})" if name else str(prog)
