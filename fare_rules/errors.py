"""Errors for bad *input* to the rules (an unknown station, a product that needs a route, a broken data file).

A refused scan is not an error: it is a `Denied` value. Hierarchy::

    FareRulesError(ValueError)
    ├── UnknownStation
    ├── UnknownProduct
    ├── InvalidRoute          (same origin and destination, or missing where the product needs one)
    └── DataFileError         (a network, tariff or policy file that does not parse or validate)
"""

from __future__ import annotations

__all__ = ["DataFileError", "FareRulesError", "InvalidRoute", "UnknownProduct", "UnknownStation"]


class FareRulesError(ValueError):
    code = "fare_rules_error"


class UnknownStation(FareRulesError):
    code = "unknown_station"


class UnknownProduct(FareRulesError):
    code = "unknown_product"


class InvalidRoute(FareRulesError):
    code = "invalid_route"


class DataFileError(FareRulesError):
    code = "data_file_error"
