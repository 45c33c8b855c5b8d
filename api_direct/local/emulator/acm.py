"""Patches to moto's ACM: a DNS-validated certificate is issued by its validation record, not by a timer."""

from typing import Any


def certificate_issued_once_its_record_is_found() -> None:
    """A pending DNS-validated certificate is issued after its validation records are found in DNS.

    moto issues every pending Amazon-issued certificate once it is older than
    ``MOTO_ACM_VALIDATION_WAIT`` (60 s), whatever DNS holds: a domain nobody
    validated gets its certificate. ACM issues a public DNS-validated certificate
    only once it finds, in public DNS, the CNAME ``DescribeCertificate`` names for
    each of its domains, and it looks on its own schedule, never at the instant the
    record is written. The patch makes the emulator's public hosted zones (the only
    DNS it has) that DNS: a check that finds every record marks the certificate,
    and the next check issues it, as ACM's next look would. Expiry is checked as
    moto checks it; imported and private certificates are left as moto has them.
    """
    from moto.acm.models import CertBundle
    from moto.core.utils import utcnow
    from moto.route53.models import route53_backends

    def found_in_public_zones(bundle: CertBundle) -> bool:
        _, partition, _, _, account_id, _ = bundle.arn.split(":", 5)
        zones = [zone for zone in route53_backends[account_id][partition].zones.values() if not zone.private_zone]
        published = {
            (_name(record.name), _name(_value(value)))
            for zone in zones
            for record in zone.rrsets
            if record.type == "CNAME"
            for value in record.records
        }
        options = bundle.describe()["Certificate"].get("DomainValidationOptions", [])
        wanted = {(_name(o["ResourceRecord"]["Name"]), _name(o["ResourceRecord"]["Value"])) for o in options}
        return bool(wanted) and wanted <= published

    def check(self: CertBundle) -> None:
        if self._not_valid_after(self._cert) <= utcnow():
            self.status = "EXPIRED"
            return
        if self.type != "AMAZON_ISSUED" or self.status != "PENDING_VALIDATION" or self.cert_authority_arn:
            return
        if getattr(self, "validation_records_seen", False):
            self.status = "ISSUED"
        elif found_in_public_zones(self):
            self.validation_records_seen = True  # type: ignore[attr-defined]

    CertBundle.check = check  # type: ignore[method-assign]


def _value(value: Any) -> str:
    """A record's value as moto stores it: a string, or ``{"Value": ...}`` as the API sends it."""
    return str(value["Value"] if isinstance(value, dict) else value)


def _name(name: str) -> str:
    """A DNS name as DNS compares it: without the root's dot, in any case."""
    return name.rstrip(".").lower()
