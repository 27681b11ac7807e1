"""Who is it? What can be known about a source address without asking anyone.

* address class from the knowledge base (private, documentation, multicast, global, ...),
* country and network (AS) owner from the GeoLite2-derived database that ships inside the
  ``geoip2fast`` package (nothing is downloaded at run time; the database date is reported),
* reverse DNS only when asked (``resolve=True``): the lookup itself tells the address owner's
  name servers that someone is looking,
* the abuse contact by RDAP only with ``online=True`` (:func:`rdap_abuse`), cached on disk.
"""
from __future__ import annotations

import ipaddress
import itertools
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutTimeout
from functools import lru_cache
from typing import Any

GEO_FILE = "geoip2fast-asn-ipv6.dat.gz"
RDNS_TIMEOUT = 2.0
RDAP_TIMEOUT = 8.0
RDAP_URL = "https://rdap.org/ip/{ip}"   # bootstrap redirector to the right regional registry
RDAP_CACHE_DAYS = 30


_GEO: list = []                # the reader once loaded (or None when it cannot be)
_GEO_LOCK = threading.Lock()   # a second caller waits for the first load instead of loading twice


def _geo():
    """The geoip2fast reader, or None when the package is missing or its file cannot be read."""
    with _GEO_LOCK:
        if not _GEO:
            _GEO.append(_load_geo())
        return _GEO[0]


def preload() -> None:
    """Start loading the country/AS database on a background thread (~0.3 s of a small log's run,
    spent while the log is read and the detectors run)."""
    if not _GEO:
        threading.Thread(target=_geo, name="fwforensics-geo", daemon=True).start()


def _load_geo():
    try:
        from geoip2fast import GeoIP2Fast
    except ImportError:
        return None
    try:
        return GeoIP2Fast(geoip2fast_data_file=GEO_FILE, verbose=False)
    except Exception:
        try:
            return GeoIP2Fast(verbose=False)
        except Exception:
            return None


@lru_cache(maxsize=1)
def geo_source() -> dict[str, str] | None:
    """{'name', 'date', 'licence', 'package'} of the offline database, or None when absent."""
    g = _geo()
    if g is None:
        return None
    # the reader's own attribute: get_database_info() would decompress and count the whole file
    # again just to return it (~0.2 s of every report)
    src = getattr(g, "source_info", None)
    if not isinstance(src, str):
        try:
            src = str(g.get_database_info().get("source_info", ""))
        except Exception:
            src = ""
    date = ""
    tail = src.rsplit("-", 1)[-1]
    if tail.isdigit() and len(tail) == 8:
        date = f"{tail[:4]}-{tail[4:6]}-{tail[6:]}"
    try:
        from importlib.metadata import version
        pkg = f"geoip2fast {version('geoip2fast')}"
    except Exception:
        pkg = "geoip2fast"
    return {"name": "MaxMind GeoLite2 Country and ASN (as packaged by geoip2fast)", "date": date,
            "source": src, "licence": "CC BY-SA 4.0 (GeoLite2 data by MaxMind, https://www.maxmind.com)",
            "package": pkg}


def _address_class(ip: str) -> dict[str, Any]:
    try:
        from ..knowledge import kb
        a = kb().address(ip)
    except Exception:
        a = None
    if a is None:
        try:
            obj = ipaddress.ip_address(ip)
        except ValueError:
            return {"class": "not an address", "class_name": "not an IP address", "bogon": False}
        cat = "private" if obj.is_private else "global" if obj.is_global else "reserved"
        return {"class": cat, "class_name": cat, "bogon": not obj.is_global, "class_text": ""}
    return {"class": a.category, "class_name": a.name, "bogon": bool(a.bogon), "class_text": a.text,
            "class_block": a.cidr, "class_rfc": a.rfc}


def _rdns(ip: str, timeout: float = RDNS_TIMEOUT) -> str | None:
    with ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(socket.gethostbyaddr, ip)
        try:
            return fut.result(timeout=timeout)[0]
        except (FutTimeout, OSError, UnicodeError):
            return None


def lookup(ip: str, resolve: bool = False) -> dict[str, Any]:
    """Everything known offline about one address (plus reverse DNS when ``resolve``)."""
    out: dict[str, Any] = {"ip": ip}
    out.update(_address_class(ip))
    out.update({"country": None, "country_name": None, "as_name": None, "as_network": None})
    if not out.get("bogon"):
        g = _geo()
        if g is not None:
            try:
                r = g.lookup(ip)
                cc = getattr(r, "country_code", None)
                if cc and cc not in ("--", ""):
                    out["country"] = cc
                    out["country_name"] = getattr(r, "country_name", None) or None
                asn = getattr(r, "asn_name", None)
                if asn and asn != "IANA.ORG":
                    out["as_name"] = asn
                    out["as_network"] = getattr(r, "asn_cidr", None) or None
            except Exception:
                pass
    if resolve:
        out["rdns"] = _rdns(ip)
    return out


def enrich(rep: dict[str, Any], resolve: bool = False, limit: int = 100) -> dict[str, Any]:
    """Add ``rep['who']`` (address -> lookup) for finding sources and top sources."""
    ips: dict[str, None] = {}   # in order of first mention (a 10 M-line log: 9.6 k findings)
    for f in rep.get("findings") or []:
        s = f.get("src")
        if s:
            ips.setdefault(s, None)
    for r in (rep.get("summary") or {}).get("top_sources") or []:
        s = r.get("src")
        if s:
            ips.setdefault(s, None)
    who = {}
    for ip in itertools.islice(ips, limit):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            continue
        who[ip] = lookup(ip, resolve=resolve)
    rep["who"] = who
    src = geo_source()
    rep["who_sources"] = {"geo": src, "reverse_dns": bool(resolve)}
    return rep


def short(info: dict[str, Any] | None) -> str:
    """'global; DE; AS: Hetzner Online GmbH' / 'private (RFC 1918)'."""
    if not info:
        return ""
    parts = []
    cls = info.get("class_name") or info.get("class") or ""
    if info.get("class") != "global":
        rfc = info.get("class_rfc")
        parts.append(cls + (f" ({rfc})" if rfc else ""))
    if info.get("country"):
        parts.append(str(info["country"]))
    if info.get("as_name"):
        parts.append(f"AS {info['as_name']}")
    if info.get("rdns"):
        parts.append(f"rDNS {info['rdns']}")
    if not parts:
        parts.append(cls or "unknown")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------ RDAP
class OfflineError(Exception):
    """RDAP could not be reached; the message says so in plain words."""


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fwforensics", "rdap")


def parse_rdap(doc: dict[str, Any]) -> dict[str, Any]:
    """Network name, handle, range, country and abuse e-mail addresses of an RDAP IP answer."""
    emails: list[str] = []

    def walk(ents, inherited_abuse=False):
        for e in ents or []:
            roles = set(e.get("roles") or [])
            abuse = inherited_abuse or "abuse" in roles
            if abuse:
                for item in (e.get("vcardArray") or [None, []])[1] or []:
                    if isinstance(item, list) and len(item) >= 4 and item[0] == "email":
                        v = str(item[3])
                        if v not in emails:
                            emails.append(v)
            walk(e.get("entities"), abuse)

    walk(doc.get("entities"))
    rng = None
    if doc.get("startAddress") and doc.get("endAddress"):
        rng = f"{doc['startAddress']} - {doc['endAddress']}"
    return {"name": doc.get("name"), "handle": doc.get("handle"), "range": rng, "country": doc.get("country"),
            "abuse_emails": emails, "port43": doc.get("port43")}


def rdap_abuse(ip: str, timeout: float = RDAP_TIMEOUT, cache_dir: str | None = None,
               url: str = RDAP_URL) -> dict[str, Any]:
    """The abuse contact of ``ip`` by RDAP, from the disk cache when fresh.

    Raises :class:`OfflineError` with a clear message when the registry cannot be reached."""
    import urllib.error
    import urllib.request
    ipaddress.ip_address(ip)  # ValueError for junk, before any request
    cache_dir = cache_dir or _cache_dir()
    path = os.path.join(cache_dir, ip.replace(":", "_") + ".json")
    try:
        if time.time() - os.path.getmtime(path) < RDAP_CACHE_DAYS * 86400:
            with open(path, encoding="utf-8") as fh:
                res = parse_rdap(json.load(fh))
                res["cached"] = True
                return res
    except (OSError, ValueError):
        pass
    req = urllib.request.Request(url.format(ip=ip), headers={"Accept": "application/rdap+json",
                                                             "User-Agent": "fwforensics"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(2 << 20)
    except urllib.error.HTTPError as e:
        raise OfflineError(f"the RDAP service answered HTTP {e.code} for {ip}; look the address up by hand "
                           f"with whois or at the regional registry's web site") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        raise OfflineError(f"could not reach the RDAP service ({reason}): this machine seems to be offline. "
                           f"The draft below has no abuse address; find it later with "
                           f"'whois {ip}' or 'fwforensics abuse {ip} --online' on a connected machine") from None
    try:
        doc = json.loads(body)
    except ValueError:
        raise OfflineError("the RDAP service sent something that is not JSON") from None
    try:
        os.makedirs(cache_dir, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(body)
    except OSError:
        pass
    res = parse_rdap(doc)
    res["cached"] = False
    return res
