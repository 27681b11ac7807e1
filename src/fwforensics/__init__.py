"""fwforensics: what am I seeing? Firewall log forensics."""
__version__ = "0.1.0"
