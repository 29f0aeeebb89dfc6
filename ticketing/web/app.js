// The rider's app: a hash router over the screens in views.js, the header, and the service worker that
// makes the app and the wallet open with no network.

import { errorText, setLang, lang, t } from "./i18n.js";
import { announce, buyView, gateView, h, linkView, orderView, receiptView, recoverView, walletView } from "./views.js";

const main = document.getElementById("main");
let cleanup = () => {};
let pendingMessage = "";

let generation = 0; // which render is current: a slow screen that finishes late is dropped

const ROUTES = [
  [/^#\/?$/, (screen, go) => buyView(screen, go)],
  [/^#\/wallet$/, (screen, go) => walletView(screen, go)],
  [/^#\/recover$/, (screen, go) => recoverView(screen, go)],
  [/^#\/order\/([^/]+)$/, (screen, go, id) => orderView(screen, go, decodeURIComponent(id))],
  [
    /^#\/o\/([^/]+)\/([^/]+)$/,
    (screen, go, id, token) => linkView(screen, go, decodeURIComponent(id), decodeURIComponent(token)),
  ],
  [/^#\/ticket\/([^/]+)$/, (screen, go, id) => gateView(screen, go, decodeURIComponent(id))],
  [/^#\/receipt\/([^/]+)$/, (screen, go, id) => receiptView(screen, go, decodeURIComponent(id))],
];

function go(hash, message = "") {
  pendingMessage = message;
  if (location.hash === hash) render();
  else location.hash = hash;
}

function header() {
  document.getElementById("skip").textContent = t("skip");
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav"));
  const here = location.hash || "#/";
  const link = (href, label) => h("a", { href, "aria-current": here === href ? "page" : false, text: label });
  nav.replaceChildren(link("#/", t("navBuy")), link("#/wallet", t("navWallet")), link("#/recover", t("navRecover")));
  const toggle = document.getElementById("lang");
  toggle.textContent = t("otherLanguage");
  toggle.lang = lang() === "vi" ? "en" : "vi";
  document.documentElement.lang = lang();
}

async function render() {
  const mine = ++generation;
  cleanup();
  cleanup = () => {};
  header();
  const screen = h("div", { class: "screen" }); // each render its own: a late one writes to a detached node
  main.replaceChildren(screen);
  const hash = location.hash || "#/";
  const found = ROUTES.map(([pattern, view]) => [hash.match(pattern), view]).find(([match]) => match);
  const [match, view] = found ?? [["#/"], ROUTES[0][1]];
  let done = () => {};
  const goFromHere = (next, message) => mine === generation && go(next, message); // a late screen stays put
  try {
    done = (await view(screen, goFromHere, ...match.slice(1))) || (() => {});
  } catch (error) {
    screen.replaceChildren(h("h1", { tabindex: "-1", text: t("errors.unknown") }), h("p", { class: "error", role: "alert", text: errorText(error) }));
  }
  if (mine !== generation) {
    done(); // the rider has moved on: stop what this screen started (timers, wake lock)
    return;
  }
  cleanup = done;
  if (pendingMessage) {
    screen.prepend(h("p", { class: "notice success", role: "status", text: pendingMessage }));
    pendingMessage = "";
  }
  screen.querySelector("h1")?.focus(); // a screen reader hears the new screen's title; keyboard focus starts there
}

function showConnection() {
  const banner = document.getElementById("offline");
  banner.textContent = t("offline");
  banner.hidden = navigator.onLine;
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "vi" ? "en" : "vi");
  showConnection();
  render();
  announce(t("otherLanguage") === "English" ? "Tiếng Việt" : "English");
});
window.addEventListener("hashchange", render);
document.getElementById("skip").addEventListener("click", (event) => {
  event.preventDefault(); // "#main" is not a route: move focus instead of navigating
  main.focus();
});
window.addEventListener("online", showConnection);
window.addEventListener("offline", showConnection);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {
    /* without a service worker the app still works online */
  });
}
showConnection();
render();
