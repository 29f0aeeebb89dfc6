// The rider's app: a hash router over the screens in views.js, the header, and the service worker that
// makes the app and the wallet open with no network.

import { errorText, setLang, lang, t } from "./i18n.js";
import { announce, buyView, gateView, h, linkView, orderView, receiptView, recoverView, walletView } from "./views.js";

const main = document.getElementById("main");
let cleanup = () => {};
let pendingMessage = "";

const ROUTES = [
  [/^#\/?$/, (go) => buyView(main, go)],
  [/^#\/wallet$/, (go) => walletView(main, go)],
  [/^#\/recover$/, (go) => recoverView(main, go)],
  [/^#\/order\/([^/]+)$/, (go, id) => orderView(main, go, decodeURIComponent(id))],
  [/^#\/o\/([^/]+)\/([^/]+)$/, (go, id, token) => linkView(main, go, decodeURIComponent(id), decodeURIComponent(token))],
  [/^#\/ticket\/([^/]+)$/, (go, id) => gateView(main, go, decodeURIComponent(id))],
  [/^#\/receipt\/([^/]+)$/, (go, id) => receiptView(main, go, decodeURIComponent(id))],
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
  cleanup();
  cleanup = () => {};
  header();
  main.replaceChildren();
  const hash = location.hash || "#/";
  const found = ROUTES.map(([pattern, view]) => [hash.match(pattern), view]).find(([match]) => match);
  const [match, view] = found ?? [["#/"], ROUTES[0][1]];
  try {
    cleanup = (await view(go, ...match.slice(1))) || (() => {});
  } catch (error) {
    main.replaceChildren(h("h1", { tabindex: "-1", text: t("errors.unknown") }), h("p", { class: "error", role: "alert", text: errorText(error) }));
  }
  if (pendingMessage) {
    main.prepend(h("p", { class: "notice success", role: "status", text: pendingMessage }));
    pendingMessage = "";
  }
  main.querySelector("h1")?.focus(); // a screen reader hears the new screen's title; keyboard focus starts there
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
window.addEventListener("online", showConnection);
window.addEventListener("offline", showConnection);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {
    /* without a service worker the app still works online */
  });
}
showConnection();
render();
