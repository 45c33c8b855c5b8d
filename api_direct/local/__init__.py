"""API-Direct on one machine: ``apid dev`` and ``apid sandbox``.

Everything here stands in for a cloud service on loopback (the patched moto
server for AWS, a Stripe fake for Stripe) or for what the cloud runs our code in
(API Gateway in front of the app, Lambda invoking handlers), so the product's own
code paths run unchanged without an AWS or Stripe account. Needs the ``local``
extra (``pip install 'api-direct[local]'``) for moto.
"""
