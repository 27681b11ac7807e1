"""NetBIOS lookups and file-sharing worms on the lab's real datagrams (RFC 1002 NBSTAT payloads)."""
from pathlib import Path

from _detect_util import LAB, ids, lab, one, run


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
    assert "then tried their file-sharing ports (3 attempts on 139, 3 attempts on 445)" in w["summary"]
    assert one(fs, "netbios.nbstat", "198.51.100.138")["count"] == 3


def test_fileshare_worm_names_only_the_ports_it_tried():
    # the same lab records without the 139 attempts: "0 x 139" was printed before
    src = (LAB / "worm_fileshare.log").read_text().splitlines(keepends=True)
    kept = [ln for ln in src if not ("SRC=198.51.100.138" in ln and "DPT=139 " in ln)]
    assert len(kept) == len(src) - 3
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "no139.log"
        p.write_text("".join(kept))
        w = one(run(p), "worm.fileshare", "198.51.100.138")
    assert "then tried their file-sharing port (3 attempts on 445): " in w["summary"], w["summary"]
    assert w["ports"] == [137, 445]


def test_one_netbios_lookup_is_not_a_worm():
    fs = lab("background_noise")
    assert not ids(fs, "worm.fileshare")
    nb = one(fs, "netbios.nbstat", "198.51.100.80")
    assert nb["count"] == 1 and nb["severity"] == "info"


def test_udp_port_scan_touching_137_is_not_a_netbios_lookup():
    assert not ids(lab("nmap_udp"), "netbios.nbstat")
