// Every chart of the dashboard, drawn here as SVG from the API's JSON: grouped bars and a heat map. Each chart
// is a <figure> whose <table> holds the very numbers drawn, so a screen reader, a keyboard user or a test reads
// them from the page; the SVG itself is one labelled image.

import { h, s } from "./dom.js";

const BAR_HEIGHT = 200;
const BOTTOM = 46;
const TOP = 12;

// A scrollable box reachable by keyboard (WCAG 2.1.1), named for screen readers.
export function scroller(label, child) {
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, child);
}

// columns: [{ key, label, num?, format? }]; rows: objects; rowClass(row) an optional class per row.
export function table(caption, columns, rows, { rowClass, rowHeader = 0 } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null, text: c.label })));
  const body = rows.map((row) =>
    h(
      "tr",
      { class: rowClass?.(row) || null },
      columns.map((c, i) => {
        const value = c.value ? c.value(row) : row[c.key];
        const text = c.format ? c.format(value, row) : value ?? "—";
        const cell = i === rowHeader ? h("th", { scope: "row" }) : h("td");
        if (c.num) cell.className = "num";
        if (text instanceof Node) cell.append(text);
        else cell.textContent = String(text);
        if (c.key) cell.dataset.key = c.key;
        return cell;
      }),
    ),
  );
  return scroller(caption, h("table", {}, h("caption", { text: caption }), h("thead", {}, head), h("tbody", {}, body)));
}

// The axis top: four ticks of round values (whole numbers for counts).
function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 4, 8, 10].find((m) => m * power >= value) * power;
}

function legend(series) {
  return h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    series.map((serie, i) => h("li", {}, h("span", { class: `swatch s${i}` }), serie.name)),
  );
}

// Grouped bars: one group per category, one bar per series. `format` writes a value for the axis and table.
export function barChart({ title, categories, series, format = String, categoryLabel }) {
  const group = Math.max(categories.length <= 16 ? 64 : 18, series.length * 12 + 8);
  const top = niceMax(Math.max(0, ...series.flatMap((serie) => serie.values)));
  const LEFT = 12 + 7 * Math.max(...[0, 1, 2, 3, 4].map((k) => format((top * k) / 4).length)); // the longest label
  const width = LEFT + Math.max(categories.length, 1) * group + 8;
  const y = (value) => TOP + BAR_HEIGHT - (value / top) * BAR_HEIGHT;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${TOP + BAR_HEIGHT + BOTTOM}`,
    width,
    height: TOP + BAR_HEIGHT + BOTTOM,
    role: "img",
    "aria-label": title,
    class: "chart",
  });
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top * tick) / 4;
    svg.append(
      s("line", { x1: LEFT, x2: width, y1: y(value), y2: y(value), class: "grid" }),
      s("text", { x: LEFT - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, format(value)),
    );
  }
  const every = Math.ceil(56 / group); // a label every 56 px at least, so that none overlap
  categories.forEach((category, c) => {
    const x0 = LEFT + c * group + 4;
    series.forEach((serie, i) => {
      const value = serie.values[c] ?? 0;
      const bar = s("rect", { x: x0 + i * 12, y: y(value), width: 10, height: Math.max(0, y(0) - y(value)), class: `s${i}` });
      bar.append(s("title", {}, `${category} · ${serie.name}: ${format(value)}`));
      svg.append(bar);
    });
    if (c % every === 0) {
      svg.append(s("text", { x: x0, y: TOP + BAR_HEIGHT + 16, class: "axis" }, category));
    }
  });
  return figure(title, svg, series, categories, format, categoryLabel);
}

// Horizontal bars, one row per category (long names: reasons, gates, kinds), one bar per series in each row.
export function hBarChart({ title, categories, series, format = String, categoryLabel }) {
  const left = 190;
  const length = 420;
  const row = series.length * 14 + 10;
  const top = niceMax(Math.max(0, ...series.flatMap((serie) => serie.values)));
  const height = TOP + Math.max(categories.length, 1) * row + 24;
  const x = (value) => left + (value / top) * length;
  const svg = s("svg", { viewBox: `0 0 ${left + length + 60} ${height}`, width: left + length + 60, height, role: "img", "aria-label": title, class: "chart" });
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top * tick) / 4;
    svg.append(
      s("line", { x1: x(value), x2: x(value), y1: TOP, y2: height - 20, class: "grid" }),
      s("text", { x: x(value), y: height - 6, class: "axis", "text-anchor": "middle" }, format(value)),
    );
  }
  categories.forEach((category, c) => {
    const y0 = TOP + c * row;
    svg.append(s("text", { x: left - 8, y: y0 + row / 2 + 4, class: "axis", "text-anchor": "end" }, category));
    series.forEach((serie, i) => {
      const value = serie.values[c] ?? 0;
      const bar = s("rect", { x: left, y: y0 + 5 + i * 14, width: Math.max(0, x(value) - left), height: 12, class: `s${i}` });
      bar.append(s("title", {}, `${category} · ${serie.name}: ${format(value)}`));
      svg.append(bar, s("text", { x: x(value) + 4, y: y0 + 15 + i * 14, class: "axis" }, format(value)));
    });
  });
  return figure(title, svg, series, categories, format, categoryLabel);
}

function figure(title, svg, series, categories, format, categoryLabel) {
  const columns = [
    { key: "category", label: categoryLabel },
    ...series.map((serie, i) => ({ label: serie.name, num: true, value: (row) => row.values[i], format })),
  ];
  const rows = categories.map((category, c) => ({ category, values: series.map((serie) => serie.values[c] ?? 0) }));
  return h(
    "figure",
    { class: "figure" },
    h("figcaption", {}, h("strong", { text: title }), legend(series)),
    scroller(title, svg),
    data(table(title, columns, rows)),
  );
}

// A chart's table in a box of its own height: a long one (24 hours) scrolls inside it.
function data(box) {
  box.classList.add("data");
  return box;
}

// A heat map: rows × columns of cells, shaded by value/max in six steps, each cell's text drawn in it.
export function heatMap({ title, rows, columns, value, text, corner, cellText }) {
  const cell = 46;
  const left = 64;
  const topMargin = 28;
  const max = Math.max(0, ...rows.flatMap((r) => columns.map((c) => value(r, c))));
  const svg = s("svg", {
    viewBox: `0 0 ${left + columns.length * cell} ${topMargin + rows.length * cell}`,
    width: left + columns.length * cell,
    height: topMargin + rows.length * cell,
    role: "img",
    "aria-label": title,
    class: "chart heat",
  });
  columns.forEach((c, j) => {
    svg.append(s("text", { x: left + j * cell + cell / 2, y: 18, class: "axis", "text-anchor": "middle" }, c.short));
  });
  rows.forEach((r, i) => {
    svg.append(s("text", { x: left - 6, y: topMargin + i * cell + cell / 2 + 4, class: "axis", "text-anchor": "end" }, r.short));
    columns.forEach((c, j) => {
      const v = value(r, c);
      const step = v === 0 ? 0 : Math.min(5, 1 + Math.floor((v / max) * 4.999));
      const x = left + j * cell;
      const yTop = topMargin + i * cell;
      const box = s("rect", { x, y: yTop, width: cell - 2, height: cell - 2, class: `h${step}` });
      box.append(s("title", {}, text(r, c)));
      svg.append(box);
      if (v) svg.append(s("text", { x: x + cell / 2 - 1, y: yTop + cell / 2 + 4, class: `cell h${step}t`, "text-anchor": "middle" }, cellText(r, c)));
    });
  });
  const matrix = [
    { key: "row", label: corner, value: (row) => row.name },
    ...columns.map((c) => ({ label: c.short, value: (row) => text(row.r, c) })),
  ];
  return h(
    "figure",
    { class: "figure" },
    h("figcaption", {}, h("strong", { text: title })),
    scroller(title, svg),
    data(table(title, matrix, rows.map((r) => ({ r, name: r.name })))),
  );
}
