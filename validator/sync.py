"""The gate's sync client: enrol, pull keyset and lists by cursor, pull other gates' uses, push the journal.

Contract: docs/gate.md, "Sync protocol". Every page is stored with its new cursor in one transaction, so an
interrupted sync resumes where it stopped; every response must carry a valid issuer `X-Signature`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.policy import Policy
from validator import records
from validator.bundle import pinned_keys
from validator.codec import Keyset, load_keyset
from validator.items import parse_free_rider, parse_pass, parse_remote_use, parse_revocation
from validator.journal import build_batch
from validator.screen import describe_offset
from validator.signing import SignatureError, verify_response
from validator.station import load_rules
from validator.store import transaction
from validator.versions import parse_version_item, store_versions
from validator.wire import iso, parse_iso

__all__ = [
    "JOURNAL_BATCH",
    "Enrolment",
    "SyncClient",
    "SyncError",
    "SyncReport",
    "describe_sync",
    "describe_sync_problem",
    "enroll",
    "journal_stopped",
    "last_sync_error",
    "lost_warnings",
]

JOURNAL_BATCH = 500
LISTS = ("revocations", "passes", "free_riders", "events", "tariffs")
_JOURNAL_STATUSES = frozenset({"stored", "duplicate", "refused"})
# A batch refused with these statuses fails the same way on every retry (bad_signature, broken_chain,
# wrong_gate, bad_format, bad_sequence): uploads stop until an operator has looked (`sync --retry-journal`).
_FINAL_JOURNAL_STATUSES = frozenset({400, 403, 422})
_RECOVER = "re-provision it (`init --trust-fingerprint` from a fresh bundle, or enrol again): docs/gate.md"


class SyncError(RuntimeError):
    """A sync step failed.

    `code`, this gate's view: unreachable, unauthorized, bad_signature (a response that does not verify),
    bad_response, stale_response (a list page older than one already accepted, or far from the time the
    issuer's other answers of this sync give: an old signed page replayed), clock_off (every answer says this
    gate's clock is further off than the policy allows: lists are not taken, the journal is still uploaded),
    refused (enrolment), untrusted (no key to trust a keyset with),
    journal_refused (the server refused a journal batch for good), journal_stopped (uploads stopped after such
    a refusal), not_enrolled.
    `server_code`: the `code` of the server's error answer when it sent one (bad_code, broken_chain,
    bad_signature, wrong_gate, journal_gap, …), else None.
    """

    def __init__(self, code: str, detail: str, server_code: str | None = None) -> None:
        shown = f"{code} (server: {server_code})" if server_code else code
        super().__init__(f"{shown}: {detail}")
        self.code = code
        self.detail = detail
        self.server_code = server_code


@dataclass(frozen=True, slots=True)
class Enrolment:
    gate_id: str
    station: str
    network_id: str
    token: str
    cccd_hash_key: bytes
    server_time: datetime


@dataclass(slots=True)
class SyncReport:
    """What moved in one sync."""

    keys: int = 0
    revocations: int = 0
    passes: int = 0
    free_riders: int = 0
    tariffs: int = 0  # tariff and policy versions newly held
    events: int = 0
    journal: dict[str, int] = field(default_factory=lambda: dict.fromkeys(sorted(_JOURNAL_STATUSES), 0))
    clock_offset_seconds: float | None = None
    # Journal seqs (first, last) the server asked for and this store no longer holds: accepted as lost.
    lost: list[tuple[int, int]] = field(default_factory=list)


def _request(
    http: httpx.Client, method: str, url: str, *, auth_errors: bool = True, **kwargs: Any
) -> httpx.Response:
    """Send a request; `auth_errors` turns 401/403 into an `unauthorized` SyncError (callers that read a
    403's own code, e.g. enrolment's bad_code, pass False)."""
    try:
        response = http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise SyncError("unreachable", f"{method} {url}: {exc}") from exc
    if auth_errors and response.status_code in (401, 403):
        code, _ = _server_error(response)
        raise SyncError("unauthorized", f"{method} {url}: the server refused this gate's credentials", code)
    return response


def _server_error(response: httpx.Response) -> tuple[str | None, str]:
    """The `{"code", "detail"}` of an error answer: (code or None, detail or the start of the body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return body["code"], str(body.get("detail", ""))[:300]
    return None, response.text[:200]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise SyncError("bad_response", f"{response.request.url}: not JSON") from exc
    if not isinstance(body, dict):
        raise SyncError("bad_response", f"{response.request.url}: not a JSON object")
    return body


def enroll(http: httpx.Client, code: str, device_public_key: str) -> Enrolment:
    """`POST /v1/gate/enroll` with the one-time code and the device public key; the answer names the gate."""
    response = _request(
        http,
        "POST",
        "/v1/gate/enroll",
        auth_errors=False,
        json={"code": code, "device_public_key": device_public_key},
    )
    if response.status_code != 200:
        server_code, detail = _server_error(response)
        raise SyncError("refused", f"enrolment refused ({response.status_code}): {detail}", server_code)
    body = _json(response)
    try:
        return Enrolment(
            gate_id=str(body["gate_id"]),
            station=str(body["station"]),
            network_id=str(body["network_id"]),
            token=str(body["token"]),
            cccd_hash_key=bytes.fromhex(body["cccd_hash_key"]),
            server_time=parse_iso(body["server_time"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise SyncError("bad_response", f"enrolment answer lacks a field: {exc}") from exc


class SyncClient:
    """One gate's sync with the issuing service over `http` (base URL and Bearer token already set)."""

    def __init__(
        self,
        http: httpx.Client,
        conn: sqlite3.Connection,
        gate_id: str,
        device_key: Ed25519PrivateKey,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        policy: Policy | None = None,
    ) -> None:
        self.http = http
        self.conn = conn
        self.gate_id = gate_id
        self.device_key = device_key
        self.clock = clock
        self.policy = policy or Policy()
        self.report = SyncReport()
        self._sampled: tuple[httpx.Response, float] | None = None  # the last timed answer and its offset
        self._keys_offset: float | None = None  # measured on this sync's verified /v1/keys answer

    def sync(self, *, retry_journal: bool = False) -> SyncReport:
        """Pull keyset, revocations, passes and other gates' uses, then push the journal.

        A failure is recorded for `status` (`last_sync_error`) and raised; a success clears it.
        `retry_journal` lifts a stop left by a journal batch the server refused for good.
        """
        self.report = SyncReport()
        self._keys_offset = None
        try:
            self.pull_keys()
            clock_off: SyncError | None = None
            for name in LISTS:
                try:
                    self.pull_list(name)
                except SyncError as exc:
                    if exc.code != "clock_off":
                        raise
                    clock_off = exc  # the journal does not depend on this gate's clock: upload it still
                    break
            if retry_journal:
                with transaction(self.conn):
                    records.delete_state(self.conn, _key("journal_stopped", self.gate_id))
            self.push_journal()
            if clock_off is not None:
                raise clock_off
        except SyncError as exc:
            self._keep_offset()
            self._record_failure(exc)
            raise
        self._keep_offset()
        with transaction(self.conn):
            records.set_state(self.conn, "last_sync", iso(self.clock()))
            records.delete_state(self.conn, _key("last_sync_error", self.gate_id))
        return self.report

    def _offset_now(self) -> float | None:
        """This sync's measured offset, else the last one kept: what a journal batch carries."""
        if self.report.clock_offset_seconds is not None:
            return self.report.clock_offset_seconds
        kept = records.get_state(self.conn, "clock_offset_seconds")
        return float(kept) if kept else None

    def _keep_offset(self) -> None:
        # Every offset measured on a verified answer is kept, also when the sync then fails: a gate whose
        # clock is far off must flag its scans clock_suspect and say so, not keep an old offset of ~0 s.
        if self.report.clock_offset_seconds is not None:
            with transaction(self.conn):
                records.set_state(self.conn, "clock_offset_seconds", repr(self.report.clock_offset_seconds))

    def _record_failure(self, exc: SyncError) -> None:
        failure = {"at": iso(self.clock()), "code": exc.code, "server_code": exc.server_code}
        with transaction(self.conn):
            records.set_state(
                self.conn,
                _key("last_sync_error", self.gate_id),
                json.dumps({**failure, "detail": exc.detail}),
            )

    # --- responses ---

    def _keyset(self) -> Keyset:
        return records.keyset_from_records(records.load_keys(self.conn))

    def _verified(self, response: httpx.Response, keyset: Keyset | None = None) -> dict[str, Any]:
        if response.status_code != 200:
            server_code, detail = _server_error(response)
            raise SyncError(
                "bad_response", f"{response.request.url}: HTTP {response.status_code} {detail}", server_code
            )
        target = response.request.url.raw_path.decode("ascii")
        try:
            verify_response(target, response.content, response.headers, keyset or self._keyset())
        except SignatureError as exc:
            raise SyncError("bad_signature", f"{target}: {exc}") from exc
        return _json(response)

    def _take_offset(self, response: httpx.Response) -> None:
        """Count the offset measured on `response`: it verified, and its time is fresh (or only this gate's
        clock is wrong). An old page replayed says nothing about the clock."""
        if self._sampled is not None and self._sampled[0] is response:
            self.report.clock_offset_seconds = self._sampled[1]

    def _timed_get(self, url: str) -> httpx.Response:
        started = self.clock()
        response = _request(self.http, "GET", url)
        self._clock_sample(response, started)
        return response

    def _clock_sample(self, response: httpx.Response, started: datetime) -> None:
        # Offset = server time minus our clock at the request's midpoint; the network delay splits evenly.
        # It counts once the answer verifies and its time is believed (_take_offset).
        try:
            server_time = parse_iso(response.json()["server_time"])
        except (ValueError, KeyError, TypeError):
            return
        ended = self.clock()
        midpoint = started + (ended - started) / 2
        self._sampled = (response, (server_time - midpoint).total_seconds())

    # --- steps ---

    def pull_keys(self) -> None:
        """`GET /v1/keys`, signed by a key this gate already trusts. Without one (first sync after enrolment,
        or every trusted key revoked), by the key pinned with `enroll --trust-fingerprint`; with no pin
        either, the first keyset is trusted on first use over TLS, and a gate whose keys were all revoked
        refuses (`untrusted`): docs/gate.md, "When the issuer key is revoked"."""
        response = self._timed_get("/v1/keys")
        known = self._keyset()
        try:
            fresh = load_keyset(_json(response))
        except ValueError as exc:
            raise SyncError("bad_response", f"/v1/keys: {exc}") from exc
        roots = self._trust_roots(known, fresh)
        try:
            self._verified(response, roots)
        except SyncError as exc:
            # The new keyset revokes every key we trust, so nothing we trust can sign it. The claim is
            # unverified: it only words the error, and the gate keeps its keyset either way.
            if exc.code == "bad_signature" and all(kid in fresh and fresh[kid].revoked for kid in roots):
                raise SyncError(
                    "untrusted", f"/v1/keys revokes every issuer key this gate trusts; {_RECOVER}"
                ) from exc
            raise
        with transaction(self.conn):
            records.replace_keys(self.conn, records.records_from_keyset(fresh))
        self.report.keys = len(fresh)
        self._take_offset(response)
        self._keys_offset = self.report.clock_offset_seconds

    def _trust_roots(self, known: Keyset, fresh: Keyset) -> Keyset:
        if any(not entry.revoked for entry in known.values()):
            return known
        pin = records.get_state(self.conn, "trusted_fingerprint")
        if pin is not None:
            roots = pinned_keys(fresh, pin)
            if not roots:
                raise SyncError("untrusted", f"/v1/keys holds no unrevoked key with fingerprint {pin}")
            return roots
        if known:
            # New keysets must be signed by a key we trust: accepting this one would let anyone on the
            # network path hand the gate a keyset. Recovery is an operator's step.
            raise SyncError("untrusted", f"every issuer key this gate trusts is revoked; {_RECOVER}")
        return fresh

    def pull_list(self, name: str) -> None:
        """Page through `GET /v1/gate/<name>?after=<cursor>` until a page comes back empty.

        The list counts as synced at the server's time of its last page, never at this gate's clock, so a page
        replayed later cannot make old lists look fresh.
        """
        accepted = records.get_state(self.conn, f"{name}_synced_at")
        latest = parse_iso(accepted) if accepted else None
        while True:
            after = int(records.get_state(self.conn, f"cursor_{name}") or "0")
            response = self._timed_get(f"/v1/gate/{name}?after={after}")
            body = self._verified(response)
            latest = self._fresh_server_time(name, body, latest, response)
            items, nxt = body.get("items"), body.get("next")
            if not isinstance(items, list) or not isinstance(nxt, int):
                raise SyncError("bad_response", f"/v1/gate/{name}: items list and next cursor expected")
            self._store_page(name, items, max(nxt, after))
            if not items or nxt <= after:
                break
        with transaction(self.conn):
            # Keep the newer time: another gate of this station may have synced the list meanwhile.
            current = records.get_state(self.conn, f"{name}_synced_at")
            if current is None or parse_iso(current) < latest:
                records.set_state(self.conn, f"{name}_synced_at", iso(latest))

    def _fresh_server_time(
        self, name: str, body: dict[str, Any], accepted: datetime | None, response: httpx.Response
    ) -> datetime:
        """The page's `server_time`, refused when older than the last one accepted for this list or further
        from this gate's clock than the policy allows. The signature covers the page, not when it was sent: an
        old page, empty of the revocations made since, still verifies when replayed. Far from the gate's clock
        but where this sync's /v1/keys answer puts the server too, it is the clock that is wrong (clock_off);
        otherwise the page is old (stale_response)."""
        try:
            server_time = parse_iso(body["server_time"])
        except (KeyError, ValueError) as exc:
            raise SyncError("bad_response", f"/v1/gate/{name}: server_time expected") from exc
        if accepted is not None and server_time < accepted:
            raise SyncError(
                "stale_response",
                f"/v1/gate/{name}: server time {iso(server_time)} is older than the accepted {iso(accepted)}",
            )
        limit = self.policy.max_clock_offset_seconds
        offset = (server_time - self.clock()).total_seconds()
        if abs(offset) <= limit:
            self._take_offset(response)
            return server_time
        keys = self._keys_offset
        if keys is not None and abs(offset - keys) <= limit:
            self._take_offset(response)
            raise SyncError(
                "clock_off",
                f"this gate's clock is {describe_offset(offset)} (at most {limit} s): lists are not taken"
                " until it is set right (NTP); the journal is uploaded",
            )
        raise SyncError(
            "stale_response",
            f"/v1/gate/{name}: server time {iso(server_time)} is {offset:+.0f} s from this gate's clock"
            f" (at most {limit} s)",
        )

    def _store_page(self, name: str, items: list[Any], cursor: int) -> None:
        try:
            with transaction(self.conn):
                if name == "revocations":
                    records.upsert_revocations(self.conn, [parse_revocation(i) for i in items])
                    self.report.revocations += len(items)
                elif name == "passes":
                    records.upsert_passes(self.conn, [parse_pass(i) for i in items])
                    self.report.passes += len(items)
                elif name == "free_riders":
                    records.upsert_free_riders(self.conn, [parse_free_rider(i) for i in items])
                    self.report.free_riders += len(items)
                elif name == "tariffs":
                    network = load_rules().network
                    versions = [parse_version_item(i, network) for i in items]
                    self.report.tariffs += store_versions(self.conn, versions)
                else:
                    self.report.events += records.upsert_remote_uses(
                        self.conn, [parse_remote_use(i) for i in items]
                    )
                # Same transaction as the rows: a crash before COMMIT re-fetches this page, never skips it.
                records.set_state(self.conn, f"cursor_{name}", str(cursor))
        except ValueError as exc:
            raise SyncError("bad_response", f"/v1/gate/{name}: bad item: {exc}") from exc

    def push_journal(self) -> None:
        """`POST /v1/gate/journal` in signed batches until the backlog is empty."""
        stopped = journal_stopped(self.conn, self.gate_id)
        if stopped is not None:
            raise SyncError(
                "journal_stopped",
                f"uploads stopped since the server refused the batch from event {stopped.get('seq')}"
                f" ({stopped.get('detail')}); fix the cause, then `sync --retry-journal`",
                stopped.get("code"),
            )
        gap_retries = 0
        asked: int | None = None  # the seq a journal_gap answer asked for
        while events := records.pending_events(self.conn, self.gate_id, JOURNAL_BATCH):
            batch = build_batch(self.gate_id, events, self.device_key, self._offset_now())
            response = _request(self.http, "POST", "/v1/gate/journal", auth_errors=False, json=batch)
            if response.status_code == 409 and gap_retries < 3:
                asked = self._rewind(_json(response))
                gap_retries += 1
                continue
            self._check_journal_answer(response, events[0].seq)
            body = self._verified(response)
            if asked is not None and events[0].seq > asked:
                # Resending from `asked` started later: this store lacks those events, and the server,
                # seeing the same batch again, has accepted them as lost (its journal_gaps keep the range).
                self.report.lost.append((asked, events[0].seq - 1))
            asked = None
            statuses = self._statuses(body, {e.seq for e in events})
            with transaction(self.conn):
                records.set_uploaded(self.conn, self.gate_id, statuses.items())
            for status in statuses.values():
                self.report.journal[status] += 1
            if not statuses:  # the server answered nothing for this batch: stop rather than loop
                raise SyncError("bad_response", "journal upload answered no event")

    def _check_journal_answer(self, response: httpx.Response, first_seq: int) -> None:
        """Raise for an error answer; a final refusal also stops further uploads (a broken chain or a foreign
        signature fails identically on every retry, and resending 500 events every few seconds helps no one).
        """
        if response.status_code == 200:
            return
        server_code, detail = _server_error(response)
        if response.status_code == 401 or (response.status_code == 403 and server_code != "wrong_gate"):
            raise SyncError("unauthorized", "the server refused this gate's credentials", server_code)
        if response.status_code not in _FINAL_JOURNAL_STATUSES:
            raise SyncError(
                "bad_response", f"journal upload: HTTP {response.status_code} {detail}", server_code
            )
        stop = {"at": iso(self.clock()), "code": server_code, "detail": detail, "seq": first_seq}
        with transaction(self.conn):
            records.set_state(self.conn, _key("journal_stopped", self.gate_id), json.dumps(stop))
        raise SyncError(
            "journal_refused", f"the server refused the batch from event {first_seq}: {detail}", server_code
        )

    def _rewind(self, body: dict[str, Any]) -> int:
        """The server is missing events before this batch (e.g. it lost a batch): resend from where it says.
        Returns that seq."""
        expected = body.get("expected_seq")
        if body.get("code") != "journal_gap" or not isinstance(expected, int):
            raise SyncError("bad_response", f"journal conflict: {body}", str(body.get("code")))
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE journal SET uploaded = 'no' WHERE gate = ? AND seq >= ?", (self.gate_id, expected)
            )
        return expected

    @staticmethod
    def _statuses(body: dict[str, Any], sent: set[int]) -> dict[int, str]:
        results = body.get("results")
        if not isinstance(results, list):
            raise SyncError("bad_response", "journal answer lacks results")
        statuses: dict[int, str] = {}
        for item in results:
            if isinstance(item, dict) and item.get("seq") in sent and item.get("status") in _JOURNAL_STATUSES:
                statuses[int(item["seq"])] = str(item["status"])
        return statuses


def _key(name: str, gate_id: str) -> str:
    # Per gate: the gates of one station share station_state, but each has its own token and journal.
    return f"{name}:{gate_id}"


def _state_json(conn: sqlite3.Connection, name: str, gate_id: str) -> dict[str, Any] | None:
    text = records.get_state(conn, _key(name, gate_id))
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else None


def last_sync_error(conn: sqlite3.Connection, gate_id: str) -> dict[str, Any] | None:
    """The last failed sync of this gate, `{"at", "code", "server_code", "detail"}`; None after a success."""
    return _state_json(conn, "last_sync_error", gate_id)


def journal_stopped(conn: sqlite3.Connection, gate_id: str) -> dict[str, Any] | None:
    """Why this gate stopped uploading its journal, `{"at", "code", "detail", "seq"}`, or None."""
    return _state_json(conn, "journal_stopped", gate_id)


def describe_sync_problem(value: dict[str, Any] | None) -> str:
    """A `last_sync_error` or `journal_stopped` record in one line: its code, the server's when it differs,
    when, and the detail; "none" for no problem."""
    if value is None:
        return "none"
    code = value.get("code")
    server = value.get("server_code")
    codes = f"{code} (server: {server})" if server and code != server else str(code or server)
    return f"{codes} at {value.get('at')}: {value.get('detail')}"


def describe_sync(report: SyncReport) -> str:
    """One line on what a sync moved, the journal's answers and the clock offset it measured."""
    j = report.journal
    offset = "unknown" if report.clock_offset_seconds is None else f"{report.clock_offset_seconds:+.2f} s"
    return (
        f"synced: keys {report.keys} · revocations +{report.revocations} · passes +{report.passes}"
        f" · free riders +{report.free_riders} · tariff versions +{report.tariffs}"
        f" · events +{report.events} · journal stored {j['stored']}, duplicate {j['duplicate']},"
        f" refused {j['refused']} · clock offset {offset}"
    )


def lost_warnings(report: SyncReport) -> list[str]:
    """One warning per run of journal events the server accepted as lost (this store no longer had them)."""
    warnings = []
    for first, last in report.lost:
        span = f"event {first}" if first == last else f"events {first} to {last}"
        warnings.append(
            f"warning: journal {span} not in this gate's store: the server accepted them as lost"
            " and keeps the gap for the auditors"
        )
    return warnings
