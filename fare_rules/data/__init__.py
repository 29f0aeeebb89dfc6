"""Line 1 as data: the network, the tariff and the operator policy (JSON). Read by the shells, never here."""

__all__: list[str] = []
