"""The issuing service's pure core: the rules of an order's life, with no database, clock or web framework."""

from ticketing.issuing.lifecycle import OrderStatus, Payability, effective_status, payability

__all__ = ["OrderStatus", "Payability", "effective_status", "payability"]
