"""A tiny DNS answerer for the lab: answers every A query with 192.0.2.10 (TTL 60).

Runs inside the lab's attacker namespace ("the internet") so the LAN host's DNS lookups get
real answers through the firewall.  Stdlib only; malformed queries are ignored.
"""
import socket
import struct
import sys

addr = sys.argv[1] if len(sys.argv) > 1 else "198.51.100.53"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
while True:
    data, peer = s.recvfrom(2048)
    if len(data) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    # walk the question name
    i = 12
    while i < len(data) and data[i] != 0:
        i += data[i] + 1
    question = data[12:i + 5]
    if qd != 1 or len(question) < 5:
        continue
    qtype = struct.unpack("!H", question[-4:-2])[0]
    if qtype != 1:                       # only A records exist here: NXDOMAIN otherwise
        reply = struct.pack("!HHHHHH", qid, 0x8183 | (flags & 0x0100), 1, 0, 0, 0) + question
        s.sendto(reply, peer)
        continue
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.10")
    reply = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, 1, 0, 0) + question + answer
    s.sendto(reply, peer)
