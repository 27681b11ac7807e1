"""The UCI "Internet Firewall Data" CSV (Ertam, 2019; UCI dataset 542, ``log2.csv``).

``Source Port,Destination Port,NAT Source Port,NAT Destination Port,Action,Bytes,...``:
one firewall session per row, with no addresses and no times. Read: ports and action
(allow -> accept, deny / drop -> drop, reset-both -> reject).
"""
from __future__ import annotations

from .csv_generic import CsvMapped

_HEADER = "Source Port,Destination Port,NAT Source Port,NAT Destination Port,Action"
_MAPPING = {"src_port": "Source Port", "dst_port": "Destination Port", "action": "Action"}


class UciCsv(CsvMapped):
    name = "uci_csv"
    description = "UCI Internet Firewall Data CSV (log2.csv): ports and action per session"
    example = "57222,53,54587,53,allow,177,94,83,2,30,1,1"

    def mapping(self, ctx):
        return _MAPPING

    def sniff(self, sample):
        head = next((s for s in sample if s.strip()), "")
        return 0.99 if head.lstrip("\ufeff").startswith(_HEADER) else 0.0


FORMAT = UciCsv()
