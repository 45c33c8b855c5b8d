"""Every endpoint the fake serves, in one table: method and path to the resource module's handler.

Any other method and path gets Stripe's "Unrecognized request URL" (404). A path's
groups are passed to the handler after the decoded parameters.
"""

import re
from collections.abc import Callable
from typing import Any

from api_direct.local.stripe_server.charges import Charges
from api_direct.local.stripe_server.checkout import Checkout
from api_direct.local.stripe_server.connect import Connect
from api_direct.local.stripe_server.customers import Customers
from api_direct.local.stripe_server.disputes import DISPUTE_ROUTES
from api_direct.local.stripe_server.invoice_payments import InvoicePayments
from api_direct.local.stripe_server.payment_intents import PaymentIntents
from api_direct.local.stripe_server.payment_methods import PaymentMethods
from api_direct.local.stripe_server.prices import Prices
from api_direct.local.stripe_server.refunds import REFUND_ROUTES
from api_direct.local.stripe_server.setup_intents import SetupIntents
from api_direct.local.stripe_server.subscriptions import Subscriptions

_TABLE: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
    ("POST", "/v1/customers", Customers._create_customer),
    ("GET", "/v1/customers/([^/]+)", Customers._get_customer),
    ("POST", "/v1/customers/([^/]+)", Customers._update_customer),
    ("GET", "/v1/customers/([^/]+)/payment_methods", PaymentMethods._list_customer_payment_methods),
    ("GET", "/v1/payment_methods/([^/]+)", PaymentMethods._get_payment_method),
    ("GET", "/v1/setup_intents/([^/]+)", SetupIntents._get_setup_intent),
    ("POST", "/v1/payment_intents", PaymentIntents._create_payment_intent),
    ("GET", "/v1/payment_intents/([^/]+)", PaymentIntents._get_payment_intent),
    ("GET", "/v1/charges/([^/]+)", Charges._get_charge),
    ("GET", "/v1/balance_transactions/([^/]+)", Charges._get_balance_transaction),
    ("POST", "/v1/checkout/sessions", Checkout._create_checkout_session),
    ("GET", "/v1/checkout/sessions/([^/]+)", Checkout._get_checkout_session),
    ("POST", "/v1/checkout/sessions/([^/]+)/expire", Checkout._expire_checkout_session),
    ("POST", "/v1/products", Prices._create_product),
    ("POST", "/v1/prices", Prices._create_price),
    ("GET", "/v1/prices/([^/]+)", Prices._get_price),
    ("POST", "/v1/billing/meters", Prices._create_meter),
    ("GET", "/v1/billing/meters", Prices._list_meters),
    ("POST", "/v1/billing/meter_events", Prices._create_meter_event),
    ("POST", "/v1/subscriptions", Subscriptions._create_subscription),
    ("GET", "/v1/subscriptions/([^/]+)", Subscriptions._get_subscription),
    ("POST", "/v1/subscriptions/([^/]+)", Subscriptions._update_subscription),
    ("DELETE", "/v1/subscriptions/([^/]+)", Subscriptions._cancel_subscription),
    ("GET", "/v1/invoices/([^/]+)", Subscriptions._get_invoice),
    ("GET", "/v1/invoice_payments", InvoicePayments._list_invoice_payments),
    ("GET", "/v1/invoice_payments/([^/]+)", InvoicePayments._get_invoice_payment),
    ("POST", "/v1/accounts", Connect._create_account),
    ("GET", "/v1/accounts/([^/]+)", Connect._get_account),
    ("POST", "/v1/account_links", Connect._create_account_link),
    ("POST", "/v1/transfers", Connect._create_transfer),
    ("GET", "/v1/transfers", Connect._list_transfers),
    *REFUND_ROUTES,
    *DISPUTE_ROUTES,
]

#: ``(method, path pattern, handler)``; a handler is called as ``handler(fake, params, *path_groups)``.
ROUTES: list[tuple[str, re.Pattern[str], Callable[..., dict[str, Any]]]] = [
    (method, re.compile(path), handler) for method, path, handler in _TABLE
]
