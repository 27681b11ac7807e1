"""The common event schema.

Every reader (``fwforensics.formats.*``) emits Arrow record batches with exactly
these columns, in this order; every detector reads them (through DuckDB).
A column a format cannot fill is null, never a made-up value.

Naming convention: lower snake_case; network fields are named after the layer
they belong to (``ip_``, ``tcp_``, ``icmp_``), the quoted packet inside an ICMP
error is ``inner_*``; addresses and ports of the outer packet are the short
``src_ip``/``dst_ip``/``src_port``/``dst_port`` that every user knows.

``ECS`` maps each column to its Elastic Common Schema field (``None`` where ECS
has no field; exports then use ``fwforensics.<column>``).
"""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

# (name, arrow type, ECS field or None, description)
_COLUMNS: list[tuple[str, pa.DataType, str | None, str]] = [
    # --- where the record came from -------------------------------------------------
    ("ts", pa.timestamp("us", tz="UTC"), "@timestamp", "time of the record, UTC (null when the log has no wall clock, e.g. raw dmesg)"),
    ("ts_raw", pa.string(), "event.original_timestamp", "the timestamp exactly as written in the log"),
    ("uptime", pa.float64(), None, "kernel [uptime] stamp in seconds since boot, when present"),
    ("log_host", pa.string(), "host.hostname", "host that wrote the record (syslog HOSTNAME)"),
    ("source_file", pa.string(), "log.file.path", "input file the record was read from ('-' for stdin)"),
    ("line", pa.int64(), "log.offset", "1-based line number in the file (packet number for captures)"),
    ("format", pa.string(), "event.module", "reader that produced the record (e.g. 'netfilter')"),
    # --- what the firewall did --------------------------------------------------------
    ("action", pa.string(), "event.action", "drop | reject | accept | other"),
    ("rule", pa.string(), "rule.name", "rule name or log prefix (e.g. '[UFW BLOCK]')"),
    ("in_if", pa.string(), "observer.ingress.interface.name", "interface the packet came in on"),
    ("out_if", pa.string(), "observer.egress.interface.name", "interface the packet was going out on"),
    ("phys_in", pa.string(), None, "bridge port in (PHYSIN)"),
    ("phys_out", pa.string(), None, "bridge port out (PHYSOUT)"),
    ("mac_src", pa.string(), "source.mac", "link-layer source address"),
    ("mac_dst", pa.string(), "destination.mac", "link-layer destination address"),
    ("mac_raw", pa.string(), None, "the MAC= field as logged (destination, source, ethertype)"),
    # --- IP layer -------------------------------------------------------------------
    ("ip_version", pa.int8(), "network.type", "4 or 6"),
    ("src_ip", pa.string(), "source.ip", "source address, canonical text form (IPv6 compressed)"),
    ("dst_ip", pa.string(), "destination.ip", "destination address, canonical text form"),
    ("proto", pa.string(), "network.transport", "protocol name, lower case (tcp, udp, icmp, ipv6-icmp, esp, ...)"),
    ("proto_num", pa.int16(), "network.iana_number", "IANA protocol number"),
    ("ip_len", pa.int32(), "network.bytes", "IP total length (IPv4) or payload length (IPv6)"),
    ("ip_tos", pa.int16(), None, "IPv4 TOS byte or IPv6 traffic class"),
    ("ip_prec", pa.int16(), None, "IPv4 precedence bits as logged (PREC=)"),
    ("ttl", pa.int16(), None, "IPv4 TTL or IPv6 hop limit"),
    ("ip_id", pa.int64(), None, "IPv4 identification (IPv6: fragment header id)"),
    ("flow_label", pa.int32(), None, "IPv6 flow label"),
    ("df", pa.bool_(), None, "don't-fragment bit"),
    ("mf", pa.bool_(), None, "more-fragments bit"),
    ("ce", pa.bool_(), None, "congestion-experienced / evil bit as logged (CE)"),
    ("frag_offset", pa.int32(), None, "fragment offset in 8-byte units (0 when not a fragment)"),
    ("ip_options_raw", pa.string(), None, "IP options / IPv6 extension headers as logged (hex)"),
    ("ip_options", pa.string(), None, "decoded IP options, e.g. 'LSRR 192.0.2.1,192.0.2.7'"),
    ("source_route", pa.bool_(), None, "true when a loose or strict source-route option is present"),
    # --- transport ------------------------------------------------------------------
    ("src_port", pa.int32(), "source.port", "TCP/UDP source port"),
    ("dst_port", pa.int32(), "destination.port", "TCP/UDP destination port"),
    ("tcp_flags", pa.string(), None, "TCP flags as names in wire order, e.g. 'ACK PSH' ('' = no flags)"),
    ("tcp_flag_bits", pa.int16(), None, "TCP flags as bits: FIN 1 SYN 2 RST 4 PSH 8 ACK 16 URG 32 ECE 64 CWR 128"),
    ("tcp_window", pa.int32(), None, "TCP window"),
    ("tcp_seq", pa.int64(), None, "TCP sequence number (when logged)"),
    ("tcp_ack", pa.int64(), None, "TCP acknowledgement number (when logged)"),
    ("tcp_urgp", pa.int32(), None, "TCP urgent pointer"),
    ("tcp_options", pa.string(), None, "TCP options as logged (hex)"),
    ("udp_len", pa.int32(), None, "UDP length field"),
    # --- ICMP -----------------------------------------------------------------------
    ("icmp_type", pa.int16(), None, "ICMP / ICMPv6 type"),
    ("icmp_code", pa.int16(), None, "ICMP / ICMPv6 code"),
    ("icmp_id", pa.int32(), None, "echo identifier"),
    ("icmp_seq", pa.int32(), None, "echo sequence number"),
    ("icmp_gateway", pa.string(), None, "redirect gateway"),
    ("icmp_mtu", pa.int32(), None, "next-hop MTU (fragmentation needed / packet too big)"),
    ("icmp_parameter", pa.int32(), None, "parameter-problem pointer"),
    # --- the packet quoted inside an ICMP error -------------------------------------
    ("inner_src_ip", pa.string(), None, "quoted packet: source address"),
    ("inner_dst_ip", pa.string(), None, "quoted packet: destination address"),
    ("inner_proto", pa.string(), None, "quoted packet: protocol name"),
    ("inner_src_port", pa.int32(), None, "quoted packet: source port"),
    ("inner_dst_port", pa.int32(), None, "quoted packet: destination port"),
    ("inner_ttl", pa.int16(), None, "quoted packet: TTL / hop limit"),
    ("inner_ip_id", pa.int64(), None, "quoted packet: IP identification"),
    ("inner_len", pa.int32(), None, "quoted packet: IP length"),
    # --- other ----------------------------------------------------------------------
    ("incomplete", pa.bool_(), None, "the logger said the packet was truncated (INCOMPLETE)"),
    ("mark", pa.string(), None, "netfilter mark (MARK=)"),
    ("uid", pa.int32(), "user.id", "local socket owner uid (UID=)"),
    ("payload_len", pa.int32(), None, "application payload length in bytes (captures)"),
    ("payload_hint", pa.string(), None, "first payload bytes of interest, printable (captures), e.g. 'OPNG'"),
    ("app_proto", pa.string(), "network.protocol", "application protocol of a service-log record (dns, http, smtp, rpc, ident)"),
    ("app_detail", pa.string(), None, "application detail: DNS name/type, HTTP request line, SMTP command, RPC program/procedure"),
    ("app_status", pa.string(), None, "application outcome: e.g. 'denied', HTTP status, SMTP reply"),
    ("raw", pa.string(), "event.original", "the whole record as read (control characters kept; escape before display)"),
]

EVENT_SCHEMA: pa.Schema = pa.schema(
    [pa.field(name, typ, nullable=True, metadata={"description": desc}) for name, typ, _ecs, desc in _COLUMNS],
    metadata={"fwforensics.schema_version": str(SCHEMA_VERSION)},
)
COLUMNS: list[str] = [c[0] for c in _COLUMNS]
ECS: dict[str, str | None] = {c[0]: c[2] for c in _COLUMNS}
DESCRIPTIONS: dict[str, str] = {c[0]: c[3] for c in _COLUMNS}

ACTIONS = ("drop", "reject", "accept", "other")

TCP_FLAG_BITS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}

# IANA protocol numbers for the names readers meet; proto names are lower case.
PROTO_NUMBERS = {
    "hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipip": 4, "tcp": 6, "egp": 8, "igp": 9, "pup": 12,
    "udp": 17, "idp": 22, "dccp": 33, "ipv6": 41, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51,
    "ipv6-icmp": 58, "eigrp": 88, "ospf": 89, "pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132,
    "udplite": 136,
}
PROTO_NAMES = {v: k for k, v in PROTO_NUMBERS.items()}
# Spellings other tools use for the same protocol.
PROTO_ALIASES = {"icmpv6": "ipv6-icmp", "icmp6": "ipv6-icmp", "ipv6icmp": "ipv6-icmp", "ip": "hopopt", "ospfigp": "ospf"}


def normalise_proto(name: str | None) -> tuple[str | None, int | None]:
    """Return (name, number) for a protocol given by name or number text."""
    if name is None or name == "":
        return None, None
    s = name.strip().lower()
    if s.isdigit():
        n = int(s)
        return PROTO_NAMES.get(n, s), n
    s = PROTO_ALIASES.get(s, s)
    return s, PROTO_NUMBERS.get(s)


def empty_table() -> pa.Table:
    return EVENT_SCHEMA.empty_table()


def conform(columns: dict[str, pa.Array | list], length: int) -> pa.RecordBatch:
    """Build a record batch in schema order from whatever columns a reader filled.

    Missing columns become all-null; given columns are cast to the schema type.
    """
    arrays = []
    for field in EVENT_SCHEMA:
        col = columns.get(field.name)
        if col is None:
            arrays.append(pa.nulls(length, field.type))
            continue
        if not isinstance(col, (pa.Array, pa.ChunkedArray)):
            col = pa.array(col, type=field.type)
        elif col.type != field.type:
            col = col.cast(field.type)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)
