// The dashboard's views, one function each: the filters of its API, its chart (chart.js), the table of the
// API's rows and a CSV download of the API's CSV for the same filters. A view reads everything it shows from
// /v1/audit/... (api.js); `params` are the filters from the address's fragment (#/view?from=...).

import { audit, downloadCsv } from "./api.js";
import { barChart, hBarChart, heatMap, table } from "./chart.js";
import { announce, h } from "./dom.js";
import {
  duration, kindLabel, listLabel, methodLabel, money, num, overrideReasonLabel, productLabel, scanKindLabel, t,
  visitLabel,
} from "./i18n.js";

// At most this many days are asked one by one (revenue per day: the report answers a whole range), and drawn.
const MAX_BUCKETS = 62;
const ANOMALY_KINDS = [
  "double_use", "passback", "overstay", "entry_unseen", "repeated_exit", "used_after_refund", "journal_gap",
  "pass_too_fast",
];

// --- dates: the API reads a date or a time without offset as local time (the policy's offset) -----------

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

export function today(ctx) {
  return isoDay(Date.now() + ctx.offsetHours * 3_600_000);
}

function nextDay(day, days = 1) {
  return isoDay(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000);
}

function range(params, ctx) {
  const from = (params.from || today(ctx)).slice(0, 10);
  const to = (params.to || nextDay(from)).slice(0, 10);
  return { from, to };
}

function days(from, to) {
  const out = [];
  for (let day = from; day < to && out.length <= MAX_BUCKETS; day = nextDay(day)) out.push(day);
  return out;
}

// The buckets of a range as the ridership report names them, with the local range each covers.
function buckets(from, to, bucket, ctx) {
  if (bucket === "day") return days(from, to).map((day) => ({ key: day, label: day, from: day, to: nextDay(day) }));
  const out = [];
  for (const day of days(from, to)) {
    for (let hour = 0; hour < 24; hour++) {
      const hh = String(hour).padStart(2, "0");
      const end = hour === 23 ? `${nextDay(day)}T00:00` : `${day}T${String(hour + 1).padStart(2, "0")}:00`;
      const label = to === nextDay(from) ? `${hh}h` : `${day.slice(5)} ${hh}h`;
      out.push({ key: `${day}T${hh}:00${ctx.offset}`, label, from: `${day}T${hh}:00`, to: end });
    }
  }
  return out;
}

function eachBucket(list, ask) {
  return Promise.all(list.map(ask)); // the browser keeps a few connections to the service and queues the rest
}

// --- the parts every view has ---------------------------------------------------------------------------

function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control);
}

function select(id, value, options) {
  return h(
    "select",
    { id, name: id },
    options.map(([v, label]) => h("option", { value: v, selected: v === (value ?? "") ? true : null, text: label })),
  );
}

const CONTROLS = {
  from: (p, ctx) => field(t("from"), h("input", { id: "from", name: "from", type: "date", value: range(p, ctx).from })),
  to: (p, ctx) => field(t("to"), h("input", { id: "to", name: "to", type: "date", value: range(p, ctx).to })),
  station: (p, ctx) =>
    field(t("station"), select("station", p.station, [["", t("all")], ...ctx.stations.map((st) => [st.code, `${st.code} ${ctx.stationName(st)}`])])),
  gate: (p, ctx) => field(t("gate"), select("gate", p.gate, [["", t("all")], ...ctx.gates.map((g) => [g, g])])),
  product: (p, ctx) => field(t("product"), select("product", p.product, [["", t("all")], ...ctx.products.map((x) => [x, x])])),
  bucket: (p) => field(t("bucket"), select("bucket", p.bucket || "hour", [["hour", t("byHour")], ["day", t("byDay")]])),
  kind: (p) => field(t("kind"), select("kind", p.kind, [["", t("all")], ...ANOMALY_KINDS.map((k) => [k, kindLabel(k)])])),
  limit: (p) => field(t("limit"), h("input", { id: "limit", name: "limit", type: "number", min: "1", max: "1000", inputmode: "numeric", value: p.limit ?? "" })),
};

function filters(view, names, params, ctx, go) {
  const form = h(
    "form",
    { class: "filters", "aria-label": t("filters") },
    names.map((name) => CONTROLS[name](params, ctx)),
    h("button", { type: "submit", class: "primary", text: t("show") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = Object.fromEntries([...new FormData(form)].filter(([, value]) => value !== ""));
    go(view, chosen);
  });
  return form;
}

function csvButton(path, params, name) {
  const button = h("button", { type: "button", class: "secondary", text: t("csv") });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await downloadCsv(path, params, name);
      announce(t("csvSaved"));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function heading(text) {
  return h("h1", { tabindex: "-1", text });
}

// The API's rows as it answered them: the same rows and columns as the view's CSV.
function rowsTable(caption, rows, columns, name = "rows") {
  if (!rows.length) return h("p", { class: "empty", "data-api": name, text: t("noRows") });
  const box = table(caption, columns, rows);
  box.dataset.api = name;
  return box;
}

const col = (key, num = false, format = undefined) => ({ key, label: key, num, format });
const count = (key) => col(key, true, (v) => num(v));
const vnd = (key) => col(key, true, (v) => money(v));

function results(...children) {
  return h("section", { class: "results", "aria-live": "polite" }, children);
}

// --- the views --------------------------------------------------------------------------------------------

export async function ridershipView(main, params, ctx, go) {
  const { from, to } = range(params, ctx);
  const bucket = params.bucket === "day" ? "day" : "hour";
  const asked = { from, to, station: params.station, bucket };
  main.replaceChildren(heading(t("ridership")), filters("ridership", ["from", "to", "station", "bucket"], params, ctx, go));
  const answer = await audit("reports/ridership", asked);
  // Every bucket of the range on the chart, the empty ones too (the API answers only those with scans).
  const list = buckets(from, to, bucket, ctx);
  const sums = (key) => list.map((b) => answer.rows.filter((r) => r[bucket] === b.key).reduce((n, r) => n + r[key], 0));
  const series = [
    { name: t("entries"), values: sums("entries") },
    { name: t("exits"), values: sums("exits") },
    { name: t("denials"), values: sums("denials") },
  ];
  main.append(
    results(
      barChart({ title: t("ridershipChart"), categories: list.map((b) => b.label), series, format: num, categoryLabel: t(bucket) }),
      h("h2", { text: t("apiRows") }),
      rowsTable(t("ridership"), answer.rows, [col("station"), col(bucket), count("entries"), count("exits"), count("denials")]),
      csvButton("reports/ridership", asked, `ridership-${from}`),
    ),
  );
}

export async function odView(main, params, ctx, go) {
  const { from, to } = range(params, ctx);
  const asked = { from, to, product: params.product };
  main.replaceChildren(heading(t("od")), filters("od", ["from", "to", "product"], params, ctx, go));
  const answer = await audit("reports/od", asked);
  const cell = (o, d) => answer.rows.find((r) => r.origin === o.code && r.destination === d.code);
  const stations = ctx.stations.map((st) => ({ code: st.code, short: st.code.replace("L1-", ""), name: `${st.code} ${ctx.stationName(st)}` }));
  main.append(
    results(
      heatMap({
        title: t("odChart"),
        rows: stations,
        columns: stations,
        corner: t("originDestination"),
        value: (o, d) => cell(o, d)?.trips ?? 0,
        cellText: (o, d) => num(cell(o, d)?.trips ?? 0),
        text: (o, d) => {
          const found = cell(o, d);
          return found ? `${num(found.trips)} · ${money(found.fare_vnd)}` : "—";
        },
      }),
      h("h2", { text: t("apiRows") }),
      rowsTable(t("od"), answer.rows, [col("origin"), col("destination"), count("trips"), vnd("fare_vnd"), count("avg_duration_s")]),
      csvButton("reports/od", asked, `od-${from}`),
    ),
  );
}

const REVENUE_COLUMNS = [
  "tickets_sold", "sold_vnd", "used_vnd", "unused_vnd", "tickets_refunded", "refunded_vnd", "refund_fees_vnd",
  "ridden_after_refund_vnd", "trips", "fares_ridden_vnd", "owed_vnd",
];

// Free rides (60+ by the CCCD's birth date, the registry's categories) are a report of their own, counted in
// scans, not money: a chart beside the revenue's. Fare adjustments are the revenue report's `adjustments`.
export async function revenueView(main, params, ctx, go) {
  const { from, to } = range(params, ctx);
  const asked = { from, to };
  main.replaceChildren(heading(t("revenue")), filters("revenue", ["from", "to"], params, ctx, go));
  const list = days(from, to).slice(0, MAX_BUCKETS);
  const oneDay = (kind) => (day) => audit(`reports/${kind}`, { from: day, to: nextDay(day) });
  const [answer, free, daily, freeDaily] = await Promise.all([
    audit("reports/revenue", asked),
    audit("reports/free_rides", asked),
    eachBucket(list, oneDay("revenue")),
    eachBucket(list, oneDay("free_rides")),
  ]);
  const products = [...new Set(daily.flatMap((d) => d.rows.map((r) => r.product)))].sort();
  const sum = (rows, key, keep = () => true) => rows.filter(keep).reduce((n, r) => n + r[key], 0);
  const series = [
    ...products.map((product) => ({ name: `${t("sold")} ${productLabel(product)}`, values: daily.map((d) => sum(d.rows, "sold_vnd", (r) => r.product === product)) })),
    { name: t("faresRidden"), values: daily.map((d) => sum(d.rows, "fares_ridden_vnd")) },
    { name: t("refunds"), values: daily.map((d) => sum(d.rows, "refunded_vnd")) },
    { name: t("adjustments"), values: daily.map((d) => sum(d.adjustments ?? [], "collected_vnd")) },
  ];
  const categories = [...new Set(freeDaily.flatMap((d) => d.rows.map((r) => r.category)))].sort();
  const freeSeries = categories.map((category) => ({
    name: category,
    values: freeDaily.map((d) => sum(d.rows, "entries", (r) => r.category === category)),
  }));
  const columns = [col("product"), col("station"), ...REVENUE_COLUMNS.map((k) => (k.endsWith("_vnd") ? vnd(k) : count(k)))];
  const labels = list.map((day) => day.slice(5));
  main.append(
    results(
      barChart({ title: t("revenueChart"), categories: labels, series, format: money, categoryLabel: t("day") }),
      h("h2", { text: t("apiRows") }),
      rowsTable(t("revenue"), answer.rows, columns),
      csvButton("reports/revenue", asked, `revenue-${from}`),
      h("h2", { text: t("adjustmentsRows") }),
      rowsTable(t("adjustments"), answer.adjustments ?? [], [
        col("station"), col("gate"), col("method"), count("settlements"), vnd("collected_vnd"),
        count("double_settlements"), vnd("double_collected_vnd"), count("refused_settlements"),
      ], "adjustments"),
      h("h2", { text: t("freeRides") }),
      freeSeries.length
        ? barChart({ title: t("freeRidesChart"), categories: labels, series: freeSeries, format: num, categoryLabel: t("day") })
        : null,
      rowsTable(t("freeRides"), free.rows, [col("category"), col("station"), count("entries"), count("exits"), count("refused")], "free_rides"),
      csvButton("reports/free_rides", asked, `free-rides-${from}`),
    ),
  );
}

function totalsBy(rows, key) {
  const totals = new Map();
  for (const row of rows) totals.set(row[key] ?? "—", (totals.get(row[key] ?? "—") ?? 0) + row.denials);
  return [...totals.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
}

export async function denialsView(main, params, ctx, go) {
  const { from, to } = range(params, ctx);
  const asked = { from, to, station: params.station, gate: params.gate };
  await ctx.loadGates();
  main.replaceChildren(heading(t("denials")), filters("denials", ["from", "to", "station", "gate"], params, ctx, go));
  const answer = await audit("reports/denials", asked);
  const chart = (key, title, label) => {
    const totals = totalsBy(answer.rows, key);
    const series = [{ name: t("denials"), values: totals.map(([, n]) => n) }];
    return hBarChart({ title, categories: totals.map(([k]) => k), series, format: num, categoryLabel: label });
  };
  main.append(
    results(
      h("div", { class: "pair" }, chart("reason", t("denialsByReason"), t("reason")), chart("gate", t("denialsByGate"), t("gate"))),
      h("h2", { text: t("apiRows") }),
      rowsTable(t("denials"), answer.rows, [col("reason"), col("station"), col("gate"), count("denials")]),
      csvButton("reports/denials", asked, `denials-${from}`),
    ),
  );
}

// An anomaly item's own fields, beyond the common columns, written out from its JSON.
function detail(item) {
  const common = new Set(["at", "station", "gate", "credential"]);
  const lines = [];
  const walk = (prefix, value) => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(`${prefix}[${i}]`, v));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    else lines.push(h("li", {}, h("span", { class: "key", text: `${prefix}: ` }), value == null || value === "" ? "—" : String(value)));
  };
  for (const [k, v] of Object.entries(item)) if (!common.has(k)) walk(k, v);
  return h("ul", { class: "detail" }, lines);
}

// Where the scans and trips behind an anomaly are: its ticket's history, or its gate and station around then.
export function trailParams(kind, item) {
  const credential = item.credential ?? "";
  if (credential.startsWith("t:")) return { ticket: credential.slice(2), credential };
  const at = item.at ?? item.since;
  const around = (hours) => new Date(Date.parse(at) + hours * 3_600_000).toISOString().replace(".000Z", "Z");
  if (kind === "journal_gap") return { gate: item.gate, from: around(-1), to: around(1) };
  return { station: item.station ?? undefined, from: around(-3), to: around(3), credential: credential || undefined };
}

function anomalySection(kind, found, go) {
  const columns = [
    { key: "at", label: "at", value: (item) => item.at ?? item.since },
    col("station"),
    col("gate"),
    col("credential"),
    { key: "detail", label: "detail", value: (item) => item, format: (item) => detail(item) },
    {
      label: t("behind"),
      value: (item) => item,
      format: (item) => {
        const link = h("a", { href: `#/trail?${new URLSearchParams(Object.entries(trailParams(kind, item)).filter(([, v]) => v))}`, text: t("openScans") });
        link.addEventListener("click", (event) => {
          event.preventDefault();
          go("trail", trailParams(kind, item));
        });
        return link;
      },
    },
  ];
  return h(
    "section",
    { class: "kind", "data-kind": kind },
    h("h2", { text: `${kindLabel(kind)}: ${num(found.count)}` }),
    found.items.length ? table(kindLabel(kind), columns, found.items) : h("p", { class: "empty", text: t("noRows") }),
  );
}

export async function anomaliesView(main, params, ctx, go) {
  const { from, to } = range(params, ctx);
  const asked = { from, to, kind: params.kind, limit: params.limit };
  main.replaceChildren(heading(t("anomalies")), filters("anomalies", ["from", "to", "kind", "limit"], params, ctx, go));
  const answer = await audit("anomalies", asked);
  const found = Object.entries(answer.anomalies);
  main.append(
    results(
      hBarChart({
        title: t("anomaliesChart"),
        categories: found.map(([kind]) => kindLabel(kind)),
        series: [{ name: t("count"), values: found.map(([, f]) => f.count) }],
        format: num,
        categoryLabel: t("kind"),
      }),
      csvButton("anomalies", asked, `anomalies-${from}`),
      found.map(([kind, f]) => anomalySection(kind, f, go)),
    ),
  );
}

// Who acted at the gate, and why or how (docs/audit.md, "Scans"), next to the verdict they made or explain;
// kinds, override reasons and payment methods in the page's language.
const STAFF_COLUMNS = ["agent", "override_reason", "gate_reason", "method", "collected_vnd"];
const SCAN_COLUMNS = [
  "at", "station", "gate", "seq", "kind", "direction", "verdict", "reason", ...STAFF_COLUMNS, "flags", "credential", "product", "cccd",
];
const LABELS = { kind: scanKindLabel, override_reason: overrideReasonLabel, method: methodLabel, collected_vnd: money };
const TRIP_COLUMNS = ["started_at", "status", "credential", "origin", "destination", "duration_s", "fare_vnd", "owed_vnd"];

// The scans and trips behind an anomaly: the API's pages for those filters; the anomaly's own rows marked.
export async function trailView(main, params, ctx, go) {
  const { credential, ...asked } = params;
  main.replaceChildren(heading(t("trail")), h("p", { class: "help", text: Object.entries(params).map(([k, v]) => `${k}=${v}`).join(" · ") }));
  const [scans, trips] = await Promise.all([audit("scans", { ...asked, limit: 1000 }), audit("trips", { ...asked, limit: 1000 })]);
  const mark = (row) => (credential && row.credential === credential ? "mark" : "");
  const shown = (key) => (v) => (Array.isArray(v) ? v.join(", ") : v == null ? "—" : (LABELS[key] ?? String)(v));
  const columns = (keys) => keys.map((key) => ({ key, label: key, num: key === "seq" || key.endsWith("_s") || key.endsWith("_vnd"), format: shown(key) }));
  main.append(
    results(
      h("h2", { text: `${t("scans")}: ${num(scans.items.length)}` }),
      scans.items.length ? table(t("scans"), columns(SCAN_COLUMNS), scans.items, { rowClass: mark }) : h("p", { class: "empty", text: t("noRows") }),
      csvButton("scans", asked, "scans"),
      h("h2", { text: `${t("trips")}: ${num(trips.items.length)}` }),
      trips.items.length ? table(t("trips"), columns(TRIP_COLUMNS), trips.items, { rowClass: mark }) : h("p", { class: "empty", text: t("noRows") }),
      csvButton("trips", asked, "trips"),
      h("p", {}, h("a", { href: "#/anomalies", text: t("backToAnomalies") })),
    ),
  );
}

// Each list's age beside the reasons to visit: stale_lists is judged on them (or on the gate's own flag).
const GATE_COLUMNS = [
  col("gate"), col("station"), col("status"),
  { key: "needs_visit", label: "needs_visit", format: (v) => (v.length ? v.map(visitLabel).join(", ") : "—") },
  count("lists_age_s"),
  {
    key: "lists",
    label: "lists",
    format: (lists) =>
      h("ul", { class: "detail" }, lists.map((l) => h("li", { "data-list": l.name }, h("span", { class: "key", text: `${listLabel(l.name)}: ` }), l.fetched_at ? duration(l.age_s) : t("neverFetched")))),
  },
  col("last_upload_at"), count("upload_age_s"), count("journal_head"), col("last_event_at"), count("upload_delay_s"),
  count("missing_events"), count("clock_offset_s"),
  { key: "clock_suspect", label: "clock_suspect", format: (v) => (v ? t("yes") : t("no")) },
  { key: "stale_lists", label: "stale_lists", format: (v) => (v ? t("yes") : t("no")) },
];

export async function gatesView(main, params, ctx, go) {
  const asked = { station: params.station, gate: params.gate };
  await ctx.loadGates();
  main.replaceChildren(heading(t("gates")), filters("gates", ["station", "gate"], params, ctx, go));
  const answer = await audit("gates", asked);
  const minutes = (g) => (g.upload_age_s == null ? 0 : Math.round(g.upload_age_s / 60));
  main.append(
    results(
      hBarChart({
        title: t("gatesChart"),
        categories: answer.gates.map((g) => g.gate),
        series: [{ name: t("minutesSinceUpload"), values: answer.gates.map(minutes) }],
        format: num,
        categoryLabel: t("gate"),
      }),
      h("h2", { text: t("gatesTable") }),
      rowsTable(t("gates"), answer.gates, GATE_COLUMNS),
      csvButton("gates", asked, "gates"),
    ),
  );
}
