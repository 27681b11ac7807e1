"""NetBIOS lookups and file-sharing worms on the lab's real datagrams (RFC 1002 NBSTAT payloads)."""
from _detect_util import ids, lab, one


def test_nbstat_flavours():
    fs = lab("netbios_nbstat")
    win = one(fs, "netbios.nbstat", "198.51.100.137")
    assert (win["count"], win["details"]["flavour"]) == (3, "windows")
    samba = one(fs, "netbios.nbstat", "198.51.100.138")
    assert (samba["count"], samba["details"]["flavour"]) == (2, "samba")
    assert win["severity"] == "info" and win["ports"] == [137]
    assert not ids(fs, "worm.fileshare")


def test_fileshare_worm_lookup_then_139_445():
    fs = lab("worm_fileshare")
    w = one(fs, "worm.fileshare", "198.51.100.138")
    assert w["details"]["hosts"] == 3
    assert w["targets"] == ["192.0.2.40", "192.0.2.41", "192.0.2.42"]
    assert w["ports"] == [137, 139, 445]
    assert one(fs, "netbios.nbstat", "198.51.100.138")["count"] == 3


def test_one_netbios_lookup_is_not_a_worm():
    fs = lab("background_noise")
    assert not ids(fs, "worm.fileshare")
    nb = one(fs, "netbios.nbstat", "198.51.100.80")
    assert nb["count"] == 1 and nb["severity"] == "info"


def test_udp_port_scan_touching_137_is_not_a_netbios_lookup():
    assert not ids(lab("nmap_udp"), "netbios.nbstat")
