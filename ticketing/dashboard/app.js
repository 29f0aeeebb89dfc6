// The auditors' dashboard: sign-in, the header, and a router over the views in views.js. The address's fragment
// holds the view and its filters (#/od?from=2025-03-03&to=2025-03-04), never the token.

import { ApiError, audit, publicJson, query, session } from "./api.js";
import { h } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { anomaliesView, denialsView, gatesView, odView, revenueView, ridershipView, trailView } from "./views.js";

const VIEWS = {
  ridership: ridershipView,
  od: odView,
  revenue: revenueView,
  denials: denialsView,
  anomalies: anomaliesView,
  gates: gatesView,
  trail: trailView,
};
const NAV = ["ridership", "od", "revenue", "denials", "anomalies", "gates"];
const main = document.getElementById("main");
let ctx = null;
let generation = 0; // which render is current: a slow view that finishes late is dropped
let notice = "";

function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const name = VIEWS[path] ? path : "ridership";
  return { name, params: Object.fromEntries(new URLSearchParams(search)) };
}

function go(name, params = {}) {
  const hash = `#/${name}${query(params)}`;
  if (location.hash === hash) render();
  else location.hash = hash;
}

// The nav keeps the time range chosen: moving to another view shows the same days.
function header(here, params = {}) {
  const kept = query({ from: params.from, to: params.to });
  document.title = t("title");
  document.getElementById("brand").textContent = t("title");
  document.getElementById("skip").textContent = t("skip");
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav"));
  const signedIn = Boolean(session.token());
  nav.replaceChildren(
    ...(signedIn ? NAV : []).map((name) =>
      h("a", { href: `#/${name}${kept}`, "aria-current": here === name ? "page" : false, text: t(name) }),
    ),
  );
  const toggle = document.getElementById("lang");
  toggle.textContent = t("otherLanguage");
  toggle.lang = lang() === "vi" ? "en" : "vi";
  const out = document.getElementById("signout");
  out.textContent = t("signOut");
  out.hidden = !signedIn;
}

// Stations and products (public) and the local offset (public policy) for the filters; the gate ids (gate
// health, an auditor's call) when a view with a gate filter first asks.
async function context() {
  const [network, policy] = await Promise.all([publicJson("/v1/network"), publicJson("/v1/policy")]);
  const hours = policy.utc_offset_hours;
  const sign = hours < 0 ? "-" : "+";
  let gates = null;
  return {
    stations: network.stations,
    products: network.products.map((p) => p.product),
    gates: [],
    async loadGates() {
      gates ??= audit("gates").then((health) => health.gates.map((g) => g.gate).sort());
      this.gates = await gates;
    },
    offsetHours: hours,
    offset: `${sign}${String(Math.abs(hours)).padStart(2, "0")}:00`,
    stationName: (station) => (lang() === "vi" ? station.name_vi : station.name_en),
  };
}

function signInView(message = "") {
  header("");
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "token-help" });
  const error = h("p", { id: "sign-in-error", class: "error", role: "alert", text: message });
  const form = h(
    "form",
    { class: "sign-in" },
    h("div", { class: "field" }, h("label", { for: "token", text: t("token") }), input),
    h("p", { id: "token-help", class: "help", text: t("signInHelp") }),
    h("button", { type: "submit", class: "primary", text: t("signInButton") }),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = t("emptyToken");
      return;
    }
    try {
      await audit("gates", {}, token); // any auditor route: it answers only to an auditor or admin token
    } catch (failure) {
      error.textContent = failure instanceof ApiError && [401, 403].includes(failure.status) ? t("wrongToken") : `${t("failed")}: ${failure.message}`;
      input.focus();
      return;
    }
    session.keep(token);
    ctx = null;
    render();
  });
  main.replaceChildren(h("h1", { tabindex: "-1", text: t("signIn") }), form);
  input.focus();
}

async function render() {
  const mine = ++generation;
  if (!session.token()) {
    signInView(notice);
    notice = "";
    return;
  }
  const { name, params } = route();
  header(name, params);
  main.replaceChildren(h("p", { class: "help", role: "status", text: t("loading") }));
  try {
    ctx ??= await context();
    if (mine !== generation) return;
    const screen = h("div");
    await VIEWS[name](screen, params, ctx, go);
    if (mine !== generation) return;
    main.replaceChildren(...screen.childNodes);
    main.querySelector("h1")?.focus();
  } catch (failure) {
    if (mine !== generation) return;
    if (failure instanceof ApiError && [401, 403].includes(failure.status)) {
      session.end();
      ctx = null;
      notice = t("sessionEnded");
      render();
      return;
    }
    main.replaceChildren(h("h1", { tabindex: "-1", text: t(name) }), h("p", { class: "error", role: "alert", text: `${t("failed")}: ${failure.code ?? ""} ${failure.message}` }));
  }
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "vi" ? "en" : "vi");
  render();
});
document.getElementById("signout").addEventListener("click", () => {
  session.end();
  ctx = null;
  render();
});
window.addEventListener("hashchange", render);
setLang(lang());
render();
