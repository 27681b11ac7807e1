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
    """The country/AS reader: the compact copy of geoip2fast's tables when one is cached for its
    data file (mapped from its files in ~3 ms: a run reads only the pages its lookups touch), else
    geoip2fast itself (~0.2 s of CPU and ~107 MB of Python numbers, for at most a hundred
    lookups), from which the compact copy is then made (~0.5 s) and cached for the next runs."""
    import importlib.util
    try:
        spec = importlib.util.find_spec("geoip2fast")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], GEO_FILE)
    cached = _compact_path(path)
    if cached is not None and os.path.exists(cached):
        got = _CompactGeo.load(cached)
        if got is not None:
            return got
        import shutil
        shutil.rmtree(cached, ignore_errors=True)   # (damaged: made again below)
    try:
        from geoip2fast import GeoIP2Fast
    except ImportError:
        return None
    try:
        g = GeoIP2Fast(geoip2fast_data_file=GEO_FILE, verbose=False)
    except Exception:
        try:
            return GeoIP2Fast(verbose=False)
        except Exception:
            return None
    if cached is not None:
        try:
            compact = _CompactGeo.from_geoip2fast(g)
            if compact is not None:
                compact.save(cached)
                return compact
        except Exception:
            pass
    return g


def _compact_path(data_file: str) -> str | None:
    """Where the compact copy of ``data_file``'s tables is cached (named after the file's size and
    time, so that an updated package makes a new one); None when the file cannot be read."""
    try:
        st = os.stat(data_file)
    except OSError:
        return None
    where = _cache_dir("geo")
    if not os.path.isabs(where):   # (no home directory known: no copy, rather than one in the cwd)
        return None
    name = f"{os.path.basename(data_file)}-{st.st_size}-{st.st_mtime_ns}-v{_CompactGeo.VERSION}"
    return os.path.join(where, name)


_SIZES4 = [2 ** n for n in range(32, -1, -1)] + [0]     # addresses in a network, by prefix length
_SIZES6 = [2 ** n for n in range(128, -1, -1)] + [0]


_GEO_ARRAYS = ("hi", "lo", "netlen", "country", "ahi", "alo", "anetlen", "asn",
               "country_text", "country_off", "asn_text", "asn_off")


class _GeoAnswer:
    __slots__ = ("country_code", "country_name", "asn_name", "asn_cidr")

    def __init__(self, country_code: str, country_name: str, asn_name: str = "", asn_cidr: str = "") -> None:
        self.country_code, self.country_name, self.asn_name, self.asn_cidr = country_code, country_name, asn_name, asn_cidr


class _CompactGeo:
    """geoip2fast's country and AS tables as numpy arrays, answering :meth:`lookup` as geoip2fast does
    (the fields :func:`lookup` reads: country code and name, AS name and network).

    Each table is its networks' first addresses in order (128-bit numbers as two 64-bit halves),
    prefix lengths and name numbers. geoip2fast finds the last network starting at or before an
    address, in a list of sorted chunks; over one flat sorted list that is the same network (checked
    when the copy is made: each chunk's index entry is its first address, and the first network
    starts at 0)."""

    VERSION = 1

    def __init__(self, arrays: dict, source_info: str) -> None:
        self.a = arrays
        self.source_info = source_info

    def _name(self, which: str, k: int) -> str:
        """Name number ``k`` of the list ``which`` (country or asn): UTF-8 text cut by offsets."""
        off = self.a[which + "_off"]
        return bytes(self.a[which + "_text"][int(off[k]):int(off[k + 1])]).decode("utf-8")

    def get_database_info(self) -> dict[str, str]:
        return {"source_info": self.source_info}

    # -- making and keeping the copy
    @classmethod
    def from_geoip2fast(cls, g) -> "_CompactGeo | None":
        import sys
        import numpy as np
        mod = sys.modules[type(g).__module__]
        if not (getattr(g, "country", False) and getattr(g, "asn", False) and getattr(g, "ipv6", False)):
            return None   # (another database layout: geoip2fast answers itself)

        def flat(index, chunks) -> list[int] | None:
            if len(index) != len(chunks) or any(not c or c[0] != i for i, c in zip(index, chunks)):
                return None
            out = [x for c in chunks for x in c]
            if not out or out[0] != 0 or any(b < a for a, b in zip(out, out[1:])):
                return None
            return out

        def halves(nums: list[int]):
            return (np.array([x >> 64 for x in nums], np.uint64),
                    np.array([x & 0xFFFFFFFFFFFFFFFF for x in nums], np.uint64))

        first = flat(mod.mainIndex, mod.mainListFirstIP)
        first_asn = flat(mod.mainIndexASN, mod.mainListFirstIPASN)
        if first is None or first_asn is None:
            return None
        hi, lo = halves(first)
        ahi, alo = halves(first_asn)
        arrays = {
            "hi": hi, "lo": lo,
            "netlen": np.array([x for c in mod.mainListNetlength for x in c], np.uint8),
            "country": np.array([x for c in mod.mainListIDCountryCodes for x in c], np.uint16),
            "ahi": ahi, "alo": alo,
            "anetlen": np.array([x for c in mod.mainListNetlengthASN for x in c], np.uint8),
            "asn": np.array([x for c in mod.mainListIDASN for x in c], np.uint32),
        }
        for which, names in (("country", mod.mainListNamesCountry), ("asn", mod.mainListNamesASN)):
            enc = [str(x).encode("utf-8") for x in names]
            arrays[which + "_text"] = np.frombuffer(b"".join(enc), np.uint8)
            arrays[which + "_off"] = np.concatenate([[0], np.cumsum([len(e) for e in enc])]).astype(np.int64)
        if not (len(hi) == len(arrays["netlen"]) == len(arrays["country"])
                and len(ahi) == len(arrays["anetlen"]) == len(arrays["asn"])):
            return None
        return cls(arrays, str(g.source_info))

    def save(self, path: str) -> None:
        """Write the copy as a directory of .npy files (made aside, then renamed: another run making
        the same copy at once keeps its own or ours, each whole)."""
        import shutil
        import numpy as np
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(tmp)
            for k, v in self.a.items():
                np.save(os.path.join(tmp, k + ".npy"), v, allow_pickle=False)
            with open(os.path.join(tmp, "source_info.txt"), "w", encoding="utf-8") as fh:
                fh.write(self.source_info)
            try:
                os.rename(tmp, path)
            except OSError:   # (made meanwhile by another run)
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, path: str) -> "_CompactGeo | None":
        """The copy in ``path``, its arrays mapped from the file (read as lookups touch them: a run
        asks for at most a hundred addresses), or None when it is missing or incomplete."""
        import numpy as np
        try:
            arrays = {k: np.load(os.path.join(path, k + ".npy"), mmap_mode="r", allow_pickle=False)
                      for k in _GEO_ARRAYS}
            with open(os.path.join(path, "source_info.txt"), encoding="utf-8") as fh:
                return cls(arrays, fh.read())
        except (OSError, ValueError):
            return None

    # -- answers
    @staticmethod
    def _at_or_before(hi, lo, num: int) -> int:
        """Index of the last first address <= num (bisect_right - 1) in the halves (hi, lo)."""
        import numpy as np
        # (as numpy 64-bit unsigned numbers: a Python int would be compared as a float)
        h, low = np.uint64(num >> 64), np.uint64(num & 0xFFFFFFFFFFFFFFFF)
        a = int(hi.searchsorted(h, "left"))
        b = int(hi.searchsorted(h, "right"))
        return a + int(lo[a:b].searchsorted(low, "right")) - 1

    @staticmethod
    def _text(num: int) -> str:
        if num < 2 ** 32:
            return socket.inet_ntoa(num.to_bytes(4, "big"))
        return socket.inet_ntop(socket.AF_INET6, num.to_bytes(16, "big"))

    def lookup(self, ip: str) -> _GeoAnswer:
        try:
            try:
                num = int.from_bytes(socket.inet_aton(ip), "big")
            except OSError:
                num = int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
        except (OSError, ValueError, TypeError):
            return _GeoAnswer("", "")
        a = self.a
        i = self._at_or_before(a["hi"], a["lo"], num)
        first = (int(a["hi"][i]) << 64) | int(a["lo"][i])
        try:   # (geoip2fast's sizes by prefix length: an IPv4 number is at most 2**32)
            size = (_SIZES4 if num <= 2 ** 32 else _SIZES6)[int(a["netlen"][i])]
        except IndexError:
            return _GeoAnswer("", "")
        if num > first + size - 1:
            return _GeoAnswer("--", "")
        asn_name = asn_cidr = ""
        j = self._at_or_before(a["ahi"], a["alo"], num)   # (>= 0: both tables start at address 0)
        afirst = (int(a["ahi"][j]) << 64) | int(a["alo"][j])
        alen = int(a["anetlen"][j])
        if alen < len(_SIZES6) and num <= afirst + _SIZES6[alen] - 1:   # (geoip2fast's test for a database with IPv6)
            asn_name = self._name("asn", int(a["asn"][j]))
            asn_cidr = f"{self._text(afirst)}/{alen}"
        k = int(a["country"][i])
        code, name = self._name("country", k).split(":")   # (geoip2fast's own split: one colon)
        return _GeoAnswer("--" if k < 16 else code, name, asn_name, asn_cidr)


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


def _cache_dir(kind: str = "rdap") -> str:
    """This program's cache directory for ``kind`` (rdap: RDAP answers; geo: the compact geo copy)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fwforensics", kind)


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
