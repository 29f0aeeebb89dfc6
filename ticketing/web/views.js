// The app's screens. Each builds DOM nodes (never HTML strings: every value shown is text) and returns a
// cleanup function for what it started (timers, wake lock, object URLs).

import * as api from "./api.js";
import { errorText, stationName, t, todayInHcmc, vnd, when } from "./i18n.js";
import * as wallet from "./wallet.js";

export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function announce(text) {
  const status = document.getElementById("status");
  status.textContent = "";
  setTimeout(() => {
    status.textContent = text;
  }, 50);
}

function svgUrl(svg, urls) {
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  urls.push(url);
  return url;
}

function copyButton(value, what) {
  return h("button", {
    type: "button",
    class: "secondary small",
    "aria-label": `${t("copy")}: ${what}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
      } catch {
        /* a browser without clipboard access: the value is on screen to copy by hand */
      }
      announce(t("copied", { what }));
    },
    text: t("copy"),
  });
}

function errorBox() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

function showError(box, error) {
  box.textContent = errorText(error);
  box.hidden = false;
}

function field(id, label, input, help) {
  input.id = id;
  if (help) input.setAttribute("aria-describedby", `${id}-help`);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input, help && h("p", { class: "help", id: `${id}-help`, text: help }));
}

// --- buy ------------------------------------------------------------------------------------------------

const HOLDER_PRODUCTS = new Set(["monthly", "monthly_student"]);

export async function buyView(main, go) {
  main.append(h("h1", { tabindex: "-1", text: t("buyTitle") }), h("p", { text: t("loading") }));
  const [network, policy] = await Promise.all([api.network(), api.policy()]);
  main.replaceChildren();
  const products = network.products.filter((p) => p.on_sale);
  const stations = network.stations;
  let product = "single";
  const error = errorBox();
  const fares = h("dl", { class: "fares" });
  const singleFields = h("div");
  const holderFields = h("fieldset", { hidden: true }, h("legend", { text: t("holder") }));
  const help = h("p", { class: "help", id: "product-help" });

  const stationSelect = (name, selected) =>
    h("select", { name }, stations.map((s) => h("option", { value: s.code, selected: s.code === selected }, `${stationName(s)} (${s.code})`)));
  const origin = stationSelect("origin", stations[0].code);
  const destination = stationSelect("destination", stations[Math.min(4, stations.length - 1)].code);
  const quantity = h("input", { type: "number", name: "quantity", min: "1", max: "10", value: "1", inputmode: "numeric" });
  singleFields.append(
    field("origin", t("origin"), origin),
    field("destination", t("destination"), destination),
    field("quantity", t("quantity"), quantity),
  );
  const cccd = h("input", { type: "text", name: "cccd", inputmode: "numeric", autocomplete: "off", maxlength: "12", pattern: "[0-9]{12}" });
  const fullName = h("input", { type: "text", name: "full_name", autocomplete: "name", maxlength: "100" });
  const birthDate = h("input", { type: "date", name: "birth_date", autocomplete: "bday" });
  const startDate = h("input", { type: "date", name: "start_date", value: todayInHcmc() });
  holderFields.append(
    field("cccd", t("cccd"), cccd, t("cccdHelp")),
    field("full-name", t("fullName"), fullName),
    field("birth-date", t("birthDate"), birthDate),
    field("start-date", t("startDate"), startDate),
  );

  async function refreshFares() {
    fares.replaceChildren();
    if (product !== "single") {
      const price = products.find((p) => p.product === product)?.price_vnd ?? 0;
      fares.append(h("dt", { text: t("total") }), h("dd", { class: "price", text: vnd(price) }));
      return;
    }
    if (origin.value === destination.value) {
      fares.append(h("dt", { text: t("fareCashless") }), h("dd", { text: t("sameStation") }));
      return;
    }
    try {
      const [cashless, cash] = await Promise.all([
        api.quote(origin.value, destination.value, "cashless"),
        api.quote(origin.value, destination.value, "cash"),
      ]);
      const count = Math.max(1, Math.min(10, Number(quantity.value) || 1));
      fares.append(
        h("dt", { text: t("fareCashless") }),
        h("dd", { class: "price", text: vnd(cashless.amount_vnd) }),
        h("dt", { text: t("fareCash") }),
        h("dd", { text: vnd(cash.amount_vnd) }),
        h("dt", { text: t("total") }),
        h("dd", { class: "price", text: vnd(cashless.amount_vnd * count) }),
      );
    } catch (caught) {
      showError(error, caught);
    }
  }

  function choose(value) {
    product = value;
    singleFields.hidden = product !== "single";
    holderFields.hidden = !HOLDER_PRODUCTS.has(product);
    const days = product === "single" ? policy.single_validity_days : policy.monthly_days;
    help.textContent = t(`productHelp.${product}`, { days });
    refreshFares();
  }

  const choices = h(
    "fieldset",
    { class: "choices", "aria-describedby": "product-help" },
    h("legend", { text: t("product") }),
    products.map((p) =>
      h(
        "label",
        { class: "choice" },
        h("input", { type: "radio", name: "product", value: p.product, checked: p.product === product, onchange: () => choose(p.product) }),
        h("span", { text: t(`products.${p.product}`) }),
      ),
    ),
  );
  for (const control of [origin, destination, quantity]) control.addEventListener("change", refreshFares);

  const submit = h("button", { type: "submit", class: "primary", text: t("order") });
  // One key per filled form: a retry after a lost answer gets the same order back, never a second one; a
  // changed form is a new request, so it gets a new key.
  let key = crypto.randomUUID();
  const form = h(
    "form",
    {
      novalidate: true,
      oninput: () => {
        key = crypto.randomUUID();
      },
      onchange: () => {
        key = crypto.randomUUID();
      },
      onsubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        submit.disabled = true;
        submit.textContent = t("working");
        try {
          const item = { product };
          if (product === "single") {
            Object.assign(item, { origin: origin.value, destination: destination.value, quantity: Number(quantity.value) || 1 });
          }
          if (HOLDER_PRODUCTS.has(product)) {
            const holder = { cccd: cccd.value.trim(), full_name: fullName.value.trim(), birth_date: birthDate.value };
            const seen = await api.checkHolder(holder); // the order's own rules and messages, before any money
            announce(t("staffWillSee", { masked: seen.cccd_masked, initials: seen.initials, year: seen.birth_year }));
            Object.assign(item, { holder, start_date: startDate.value });
          }
          const order = await api.createOrder([item], key);
          cccd.value = ""; // the number is not kept in the page once the order holds its hash
          try {
            wallet.keep(order.id, order.access_token, order);
          } catch {
            // The order exists but this browser cannot keep it: its link is the rider's only key.
            error.textContent = `${t("storageFull")} ${wallet.orderLink(order.id, order.access_token)}`;
            error.hidden = false;
            submit.disabled = false;
            submit.textContent = t("order");
            return;
          }
          go(`#/order/${encodeURIComponent(order.id)}`);
        } catch (caught) {
          showError(error, caught);
          submit.disabled = false;
          submit.textContent = t("order");
        }
      },
    },
    choices,
    help,
    singleFields,
    holderFields,
    fares,
    error,
    submit,
  );
  main.append(h("h1", { tabindex: "-1", text: t("buyTitle") }), form);
  choose(product);
  return () => {};
}

// --- pay ------------------------------------------------------------------------------------------------

export async function orderView(main, go, orderId) {
  const held = wallet.entry(orderId);
  const urls = [];
  let timer = 0;
  let poll = 0;
  const cleanup = () => {
    clearInterval(timer);
    clearInterval(poll);
    urls.forEach((url) => URL.revokeObjectURL(url));
  };
  if (!held) {
    main.append(h("h1", { tabindex: "-1", text: t("payTitle") }), h("p", { text: t("notFound") }));
    return cleanup;
  }
  let order = held.order;
  try {
    order = await api.readOrder(orderId, held.token);
    wallet.keep(orderId, held.token, order);
  } catch (caught) {
    if (caught.code !== "offline") throw caught;
  }
  if (!order) {
    main.append(h("h1", { tabindex: "-1", text: t("payTitle") }), h("p", { text: t("errors.offline") }));
    return cleanup;
  }
  if (order.status === "paid") {
    await keepTicketQrs(orderId, held.token, order);
    go("#/wallet", t("paid"));
    return cleanup;
  }
  const payment = order.payment;
  main.append(h("h1", { tabindex: "-1", text: t("payTitle") }));
  if (order.status !== "awaiting_payment") {
    main.append(h("p", { class: "error", role: "alert", text: t("expired") }));
    return cleanup;
  }
  if (payment.sandbox) main.append(h("p", { class: "notice", text: t("sandbox") }));
  main.append(h("p", { text: t("payHelp") }));
  if (payment.vietqr_payload) {
    const image = h("img", { class: "qr vietqr", alt: t("vietqrAlt", { amount: vnd(payment.amount_vnd), reference: payment.reference }) });
    main.append(h("figure", { class: "qr-frame" }, image));
    try {
      image.src = svgUrl(await api.paymentSvg(orderId, held.token), urls);
    } catch (caught) {
      main.append(h("p", { class: "error", role: "alert", text: errorText(caught) }));
    }
  }
  const rows = [
    [t("bank"), payment.bank_bin],
    [t("account"), payment.account],
    [t("accountName"), payment.account_name],
    [t("amount"), vnd(payment.amount_vnd), String(payment.amount_vnd)],
    [t("reference"), payment.reference],
  ].filter(([, value]) => value);
  main.append(
    h(
      "dl",
      { class: "details" },
      rows.map(([label, shown, copied]) => [h("dt", { text: label }), h("dd", {}, h("span", { class: "mono", text: shown }), " ", copyButton(copied ?? shown, label))]),
    ),
  );
  const countdown = h("p", { class: "countdown", "aria-live": "off" });
  const waiting = h("p", { text: t("waiting") });
  main.append(countdown, waiting);
  const tick = () => {
    const left = Math.max(0, Math.floor((new Date(order.expires_at) - Date.now()) / 1000));
    const time = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    countdown.textContent = left > 0 ? t("expiresIn", { time }) : t("expired");
  };
  tick();
  timer = setInterval(tick, 1000);
  const error = errorBox();
  if (payment.sandbox) {
    main.append(
      h("button", {
        type: "button",
        class: "primary",
        text: t("simulate"),
        onclick: async () => {
          try {
            await api.simulateBank(orderId, held.token);
            await check();
          } catch (caught) {
            showError(error, caught);
          }
        },
      }),
    );
  }
  main.append(error, h("p", {}, h("a", { href: `#/receipt/${encodeURIComponent(orderId)}`, text: t("receipt") })));

  async function check() {
    try {
      const fresh = await api.readOrder(orderId, held.token);
      wallet.keep(orderId, held.token, fresh);
      if (fresh.status !== "awaiting_payment") {
        clearInterval(poll);
        if (fresh.status === "paid") {
          await keepTicketQrs(orderId, held.token, fresh);
          go("#/wallet", t("paid"));
        } else go(`#/order/${encodeURIComponent(orderId)}`);
      }
    } catch {
      /* offline for a moment: the next poll tries again */
    }
  }
  poll = setInterval(check, 2000); // the page learns of the payment without a reload
  return cleanup;
}

async function keepTicketQrs(orderId, token, order) {
  for (const ticket of order.tickets) {
    if (wallet.hasQr(orderId, ticket.id, ticket.qr_payload)) continue;
    try {
      wallet.keepQr(orderId, ticket.id, await api.ticketSvg(ticket.id, token), ticket.qr_payload);
    } catch {
      /* fetched again on the next online visit */
    }
  }
}

// --- wallet ---------------------------------------------------------------------------------------------

function routeOf(ticket, stations) {
  if (!ticket.origin) return t("wholeLine");
  const name = (code) => {
    const station = stations.find((s) => s.code === code);
    return station ? stationName(station) : code;
  };
  return t("route", { origin: name(ticket.origin), destination: name(ticket.destination) });
}

// What the service says now, kept for when there is no network; what was kept, without one.
async function fresh(key, ask, fallback) {
  try {
    const value = await ask();
    localStorage.setItem(key, JSON.stringify(value));
    return value;
  } catch {
    return cachedJson(key, fallback);
  }
}

const stationsKnown = () => fresh("metro-qr.stations", async () => (await api.network()).stations, []);
const policyKnown = () => fresh("metro-qr.policy", api.policy, null);

function cachedJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null") ?? fallback;
  } catch {
    return fallback;
  }
}

// Shown at once from what this device keeps (underground there may be no answer at all), then redrawn with
// the service's news (states, a refund) when it arrives.
export async function walletView(main, go) {
  const urls = [];
  const list = h("div");
  const draw = () => {
    urls.splice(0).forEach((url) => URL.revokeObjectURL(url));
    list.replaceChildren(walletList(go, cachedJson("metro-qr.stations", []), cachedJson("metro-qr.policy", null), urls));
  };
  main.append(h("h1", { tabindex: "-1", text: t("walletTitle") }), h("p", { class: "notice", text: t("keepWarning") }), list);
  draw();
  (async () => {
    await Promise.all([stationsKnown(), policyKnown()]);
    await Promise.all(
      wallet.orders().map(async (held) => {
        for (const token of [held.token, held.candidate].filter(Boolean)) {
          try {
            const order = await api.readOrder(held.id, token);
            wallet.keep(held.id, token, order); // the token that works, the candidate dropped
            if (order.status === "paid") await keepTicketQrs(held.id, token, order);
            return;
          } catch (caught) {
            if (caught.code === "offline") return; // show what is kept
          }
        }
      }),
    );
    if (main.isConnected) draw();
  })();
  return () => urls.forEach((url) => URL.revokeObjectURL(url));
}

function walletList(go, stations, policy, urls) {
  const held = wallet.tickets();
  if (!held.length) {
    return h("div", {}, h("p", { text: t("walletEmpty") }), h("p", {}, h("a", { href: "#/", class: "button primary", text: t("navBuy") })));
  }
  const list = h("ul", { class: "tickets" });
  for (const { ticket, orderId, token, svg } of held) {
    const error = errorBox();
    const title = `${t(`products.${ticket.product}`)} · ${routeOf(ticket, stations)}`;
    const image = svg
      ? h("img", { class: "qr", src: svgUrl(svg, urls), alt: t("qrAlt", { serial: ticket.serial }) })
      : h("p", { class: "help", text: t("qrMissing") });
    const linkBox = h("p", { hidden: true });
    const actions = h(
      "div",
      { class: "actions" },
      svg && h("a", { class: "button primary", href: `#/ticket/${encodeURIComponent(ticket.id)}`, text: t("showAtGate") }),
      h("button", {
        type: "button",
        class: "secondary",
        text: t("downloadPng"),
        onclick: async () => {
          try {
            const blob = await api.ticketPng(ticket.id, token);
            const link = h("a", { href: URL.createObjectURL(blob), download: `metro-ticket-${ticket.serial}.png` });
            document.body.append(link);
            link.click();
            link.remove();
          } catch (caught) {
            showError(error, caught);
          }
        },
      }),
      h("button", {
        type: "button",
        class: "secondary",
        text: t("copyLink"),
        onclick: async () => {
          const link = wallet.orderLink(orderId, token);
          try {
            await navigator.clipboard.writeText(link);
            announce(t("linkCopied"));
          } catch {
            // No clipboard here (permission, plain HTTP): show the link to copy by hand, selected.
            const field = h("input", { type: "text", readonly: true, value: link, "aria-label": t("copyLink") });
            linkBox.replaceChildren(field);
            linkBox.hidden = false;
            field.focus();
            field.select();
          }
        },
      }),
      h("a", { class: "button secondary", href: `#/receipt/${encodeURIComponent(orderId)}`, text: t("receipt") }),
      policy?.refunds_allowed &&
        ticket.product === "single" &&
        ticket.state === "unused" &&
        h("button", {
          type: "button",
          class: "secondary",
          text: t("refund"),
          onclick: async () => {
            const fee = Math.min(policy.refund_fee_vnd, ticket.fare_vnd);
            const question = t("refundConfirm", {
              amount: vnd(ticket.fare_vnd - fee),
              fee: vnd(fee),
              hours: Math.round(policy.refund_hold_minutes / 60),
            });
            if (!window.confirm(question)) return;
            try {
              await api.refund(ticket.id, token);
              go("#/wallet", t("refundDone"));
            } catch (caught) {
              showError(error, caught);
            }
          },
        }),
    );
    list.append(
      h(
        "li",
        { class: `ticket state-${ticket.state || "unused"}` },
        h("h2", { text: title }),
        h("p", { class: "badge", text: t(`states.${ticket.state || "unused"}`) }),
        ticket.reissued_at && h("p", { class: "notice", text: t("reissued") }),
        image,
        h("p", { class: "validity", text: `${t("validFrom")} ${when(ticket.valid_from)} ${t("validUntil")} ${when(ticket.valid_until)}` }),
        h("p", { class: "help mono", text: `#${ticket.serial}` }),
        actions,
        linkBox,
        error,
      ),
    );
  }
  return list;
}

// --- at the gate ----------------------------------------------------------------------------------------

export async function gateView(main, go, ticketId) {
  const held = wallet.findTicket(ticketId);
  const urls = [];
  let lock = null;
  if (!held?.svg) {
    main.append(h("h1", { tabindex: "-1", text: t("gateTitle") }), h("p", { text: t("qrMissing") }));
    return () => {};
  }
  const stations = cachedJson("metro-qr.stations", []);
  main.classList.add("gate");
  main.append(
    h("h1", { tabindex: "-1", text: t("gateTitle") }),
    h("img", { class: "qr big", src: svgUrl(held.svg, urls), alt: t("qrAlt", { serial: held.ticket.serial }) }),
    h("p", { class: "route", text: `${t(`products.${held.ticket.product}`)} · ${routeOf(held.ticket, stations)}` }),
    h("p", { class: "notice", text: t("brightness") }),
    h(
      "div",
      { class: "actions" },
      document.fullscreenEnabled &&
        h("button", { type: "button", class: "secondary", text: t("fullscreen"), onclick: () => document.documentElement.requestFullscreen?.() }),
      h("a", { class: "button secondary", href: "#/wallet", text: t("back") }),
    ),
  );
  const keepAwake = async () => {
    try {
      lock = await navigator.wakeLock?.request("screen"); // the screen must not dim at the barrier
    } catch {
      lock = null;
    }
  };
  const again = () => document.visibilityState === "visible" && keepAwake();
  document.addEventListener("visibilitychange", again);
  await keepAwake();
  return () => {
    main.classList.remove("gate");
    document.removeEventListener("visibilitychange", again);
    lock?.release?.();
    if (document.fullscreenElement) document.exitFullscreen?.();
    urls.forEach((url) => URL.revokeObjectURL(url));
  };
}

// --- receipt and recovery -------------------------------------------------------------------------------

export async function receiptView(main, go, orderId) {
  const held = wallet.entry(orderId);
  main.append(h("h1", { tabindex: "-1", text: t("receiptTitle") }));
  if (!held?.order) {
    main.append(h("p", { text: t("notFound") }));
    return () => {};
  }
  const order = held.order;
  const stations = await stationsKnown();
  const rows = [
    [t("orderId"), order.id],
    [t("created"), when(order.created_at)],
    [t("paidAt"), when(order.paid_at)],
    [t("method"), t(`methods.${order.payment.provider}`)],
    [t("reference"), order.payment.reference],
    [t("amount"), vnd(order.amount_vnd)],
    [t("statusLabel"), t(`status.${order.status}`)],
  ];
  main.append(
    h("dl", { class: "details" }, rows.map(([label, value]) => [h("dt", { text: label }), h("dd", { class: "mono", text: value })])),
    h("h2", { text: t("items") }),
    h(
      "ul",
      {},
      order.items.map((item) =>
        h("li", { text: `${item.quantity} × ${t(`products.${item.product}`)} · ${routeOf(item, stations)} · ${vnd(item.unit_price_vnd)}` }),
      ),
      order.tickets.map((ticket) => h("li", { class: "mono", text: `#${ticket.serial} · ${t(`states.${ticket.state || "unused"}`)}` })),
    ),
    h("button", { type: "button", class: "secondary", text: t("print"), onclick: () => window.print() }),
  );
  return () => {};
}

export async function recoverView(main, go) {
  const error = errorBox();
  const reference = h("input", { type: "text", name: "reference", autocomplete: "off", maxlength: "25", spellcheck: "false" });
  const amount = h("input", { type: "number", name: "amount_vnd", min: "1", inputmode: "numeric" });
  const paidOn = h("input", { type: "date", name: "paid_on" });
  const submit = h("button", { type: "submit", class: "primary", text: t("find") });
  main.append(
    h("h1", { tabindex: "-1", text: t("recoverTitle") }),
    h("p", { text: t("recoverHelp") }),
    h(
      "form",
      {
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          submit.disabled = true;
          try {
            const body = { reference: reference.value.trim().toUpperCase(), amount_vnd: Number(amount.value), paid_on: paidOn.value };
            const order = await api.recover(body);
            wallet.keep(order.id, order.access_token, order);
            go("#/wallet", t("recovered"));
          } catch (caught) {
            if (caught.code === "no_matching_order") {
              error.textContent = t("notFound");
              error.hidden = false;
            } else showError(error, caught);
            submit.disabled = false;
          }
        },
      },
      field("reference", t("reference"), reference),
      field("amount", t("amount"), amount),
      field("paid-on", t("paidOn"), paidOn),
      error,
      submit,
    ),
  );
  return () => {};
}

// An order link from another device: drop the token from the address bar, and keep it only if the service
// takes it (an old link, from before a recovery, must not replace the working token this device holds).
export async function linkView(main, go, orderId, token) {
  try {
    wallet.keep(orderId, token, await api.readOrder(orderId, token));
  } catch (caught) {
    if (caught.status === 404 || caught.status === 401) {
      history.replaceState(null, "", `#/order/${encodeURIComponent(orderId)}`); // a dead token: drop it
      main.append(h("h1", { tabindex: "-1", text: t("payTitle") }), h("p", { class: "error", role: "alert", text: t("linkDead") }));
      return () => {};
    }
    // No answer (offline, or the service failing): keep the link's token to try, never over one that works.
    const held = wallet.entry(orderId);
    if (held) wallet.keepCandidate(orderId, token);
    else wallet.keep(orderId, token, null);
  }
  history.replaceState(null, "", `#/order/${encodeURIComponent(orderId)}`); // kept: out of the address bar
  return orderView(main, go, orderId);
}
