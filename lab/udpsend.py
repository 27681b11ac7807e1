"""The lab's own datagram sender, for payloads no installed tool builds.

Sends real UDP datagrams through the kernel's own UDP stack (no raw packets):

* ``nbstat``: a NetBIOS node-status (NBSTAT) query for the name ``*`` as Windows and Samba
  send it (RFC 1002 4.2.17);
* ``nbname``: a NetBIOS name query broadcast for WORKGROUP<1d>;
* ``dhcp``: a minimal DHCPDISCOVER (RFC 2131) as a neighbour's DHCP client broadcasts it.

Usage: udpsend.py --src IP [--sport N] --dst IP --dport N --payload KIND [--count N]
       [--interval S]
Malformed arguments end with a usage message, never a traceback.
"""
import argparse
import os
import socket
import struct
import sys
import time


def nb_encode(name: bytes) -> bytes:
    """First-level NetBIOS name encoding (RFC 1001 14.1): 32 letters A-P, length-prefixed."""
    name = name.ljust(16, b"\x00") if name == b"*" else name
    enc = b"".join(bytes((0x41 + (c >> 4), 0x41 + (c & 0x0F))) for c in name[:16])
    return bytes((32,)) + enc + b"\x00"


def nbstat() -> bytes:
    tid = os.getpid() & 0xFFFF
    return struct.pack("!HHHHHH", tid, 0x0000, 1, 0, 0, 0) + nb_encode(b"*") + struct.pack("!HH", 0x21, 1)


def nbname() -> bytes:
    tid = (os.getpid() + 1) & 0xFFFF
    name = b"WORKGROUP".ljust(15, b" ") + b"\x1d"
    return struct.pack("!HHHHHH", tid, 0x0110, 1, 0, 0, 0) + nb_encode(name) + struct.pack("!HH", 0x20, 1)


def dhcp() -> bytes:
    mac = bytes.fromhex("02fa0fe0ab77")
    pkt = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x3903F326, 0, 0x8000,
                      b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac.ljust(16, b"\0"),
                      b"\0" * 64, b"\0" * 128)
    opts = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"
    return pkt + opts


PAYLOADS = {"nbstat": nbstat, "nbname": nbname, "dhcp": dhcp}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--sport", type=int, default=0)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dport", type=int, required=True)
    ap.add_argument("--payload", choices=sorted(PAYLOADS), required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval", type=float, default=1.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((a.src, a.sport))
    except OSError as e:
        print(f"udpsend: cannot bind {a.src}:{a.sport}: {e}", file=sys.stderr)
        return 2
    for i in range(a.count):
        s.sendto(PAYLOADS[a.payload](), (a.dst, a.dport))
        if i + 1 < a.count:
            time.sleep(a.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
