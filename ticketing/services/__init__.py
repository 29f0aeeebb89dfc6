"""The service layer: the only code that commits. Routes call these; these call fare_rules and the codec."""

__all__: list[str] = []
