"""The fare and usage rules of metro-qr: pure, no I/O. Networks, tariffs and policy arrive as data.

`fare_rules.cccd` is a module of its own and is not re-exported here.
"""

from fare_rules import errors
from fare_rules.errors import DataFileError, FareRulesError, InvalidRoute, UnknownProduct, UnknownStation
from fare_rules.model import Accepted, Credential, Decision, Denied, Direction, Flag, History, Scan, Use
from fare_rules.network import Network, Station, load_network
from fare_rules.policy import (
    DEFAULT_POLICY,
    Policy,
    load_policy,
    policy_to_json,
    service_date,
    service_day,
    service_day_of_date,
)
from fare_rules.products import HOLDER_PRODUCTS, PERIOD_PRODUCTS, PaymentMethod, Product
from fare_rules.reasons import Message, Reason, message_for
from fare_rules.rules import decide, gate_flags, validity_window, with_flags
from fare_rules.tariff import (
    DEFAULT_PRODUCT_PRICES,
    Quote,
    Tariff,
    default_single_fare,
    generate_default_tariff,
    load_tariff,
    quote,
    tariff_to_json,
)

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_PRODUCT_PRICES",
    "HOLDER_PRODUCTS",
    "PERIOD_PRODUCTS",
    "Accepted",
    "Credential",
    "DataFileError",
    "Decision",
    "Denied",
    "Direction",
    "FareRulesError",
    "Flag",
    "History",
    "InvalidRoute",
    "Message",
    "Network",
    "PaymentMethod",
    "Policy",
    "Product",
    "Quote",
    "Reason",
    "Scan",
    "Station",
    "Tariff",
    "UnknownProduct",
    "UnknownStation",
    "Use",
    "decide",
    "default_single_fare",
    "errors",
    "gate_flags",
    "generate_default_tariff",
    "load_network",
    "load_policy",
    "load_tariff",
    "message_for",
    "policy_to_json",
    "quote",
    "service_date",
    "service_day",
    "service_day_of_date",
    "tariff_to_json",
    "validity_window",
    "with_flags",
]
