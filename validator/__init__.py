"""The offline gate: the ticket codec, the local store, scan = decode → verify → decide → record, and sync.

Never imports `ticketing`, FastAPI or SQLModel: a gate decides with the server unreachable.

`__all__` is the gate's public API, what `scanner_cli.py` is written against, and all it uses:

- open the gate: `open_gate` → `Gate` (`GateNotProvisioned` before `init` or `enroll`);
- scan: `scan_item` (an image file or a payload text), `listen_line` (one line from a scanner), in a
  `Direction`, reading images with `get_decoder` (one of `DECODERS`); the `ScanOutcome` is shown with
  `render_outcome` next to its `item_label`, and a refusal's `Reason` in words with `message_for`;
  `listen` on a terminal shows the full-screen `StationScreen` instead, and reads its input `unechoed`;
- inspect a code without using it: `inspect_item`, as JSON with `inspection_json`;
- staff at the gate, about a `subject_of` the command (a code shown, the last refused scan, or nothing):
  `settle_item` a fare owed (a `Settlement`, in a `PaymentMethod`; `settlement_qr` draws the VietQR for it,
  `NoPayee` without an account in the policy) and `override_item` (an `OverrideAction` for an
  `OverrideReason`, in words with `override_message`), by an agent whose id `is_agent_id`;
  `NothingToRecall` when there is no refused scan to act on; amounts in words with `format_vnd`;
- status: `gate_status`, its sync problems in one line with `describe_sync_problem`, the tariff and
  policy versions it holds with `describe_versions`;
- sync with the issuing service through an injected `Connect` (`http_client`, the real one, by default):
  `sync_gate`, `BackgroundSync` while `listen` scans; `describe_sync` and `lost_warnings` say what moved;
  `SyncError` when it fails;
- provision offline from a bundle, `init_gate` (`BundleError`, `ProvisionError`, `gate_id_names_station`,
  `key_fingerprint`, `normalise_fingerprint`), or enrol online, `enroll_gate`;
- a store or rules data that cannot be used: `StoreError`, `StoreUnusable`, `FareRulesError`, in the words
  staff act on with `describe_unusable_store` and `describe_store_failure`.

The service, the tests and the benchmarks import from the modules themselves (`validator.codec`,
`validator.gate`, `validator.sync`, …).
"""

from fare_rules.errors import FareRulesError
from fare_rules.model import Direction
from fare_rules.overrides import OverrideAction, OverrideReason, override_message
from fare_rules.reasons import Reason, message_for
from fare_rules.settlement import PaymentMethod, is_agent_id
from validator.bundle import BundleError, key_fingerprint, normalise_fingerprint
from validator.core import ScanOutcome
from validator.desk import NoPayee, SettlementQr, override_item, settle_item, settlement_qr, subject_of
from validator.gate import Gate
from validator.images import DECODERS, get_decoder
from validator.operations import (
    BackgroundSync,
    Connect,
    enroll_gate,
    gate_status,
    http_client,
    init_gate,
    inspect_item,
    inspection_json,
    listen_line,
    scan_item,
    sync_gate,
)
from validator.screen import format_vnd, item_label, render_outcome
from validator.staff import NothingToRecall, Settlement
from validator.station import GateNotProvisioned, ProvisionError, gate_id_names_station, open_gate
from validator.store import StoreError, StoreUnusable, describe_store_failure, describe_unusable_store
from validator.sync import SyncError, describe_sync, describe_sync_problem, lost_warnings
from validator.terminal import StationScreen, is_terminal, unechoed
from validator.versions import describe_versions

__all__ = [
    "DECODERS",
    "BackgroundSync",
    "BundleError",
    "Connect",
    "Direction",
    "FareRulesError",
    "Gate",
    "GateNotProvisioned",
    "NoPayee",
    "NothingToRecall",
    "OverrideAction",
    "OverrideReason",
    "PaymentMethod",
    "ProvisionError",
    "Reason",
    "ScanOutcome",
    "Settlement",
    "SettlementQr",
    "StationScreen",
    "StoreError",
    "StoreUnusable",
    "SyncError",
    "describe_store_failure",
    "describe_sync",
    "describe_sync_problem",
    "describe_unusable_store",
    "describe_versions",
    "enroll_gate",
    "format_vnd",
    "gate_id_names_station",
    "gate_status",
    "get_decoder",
    "http_client",
    "init_gate",
    "inspect_item",
    "inspection_json",
    "is_agent_id",
    "is_terminal",
    "item_label",
    "key_fingerprint",
    "listen_line",
    "lost_warnings",
    "message_for",
    "normalise_fingerprint",
    "open_gate",
    "override_item",
    "override_message",
    "render_outcome",
    "scan_item",
    "settle_item",
    "settlement_qr",
    "subject_of",
    "sync_gate",
    "unechoed",
]
