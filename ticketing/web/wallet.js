// The tickets this browser holds: each order with its access token, its last known answer and the SVG of
// every ticket's QR with the payload it draws (a reissued ticket has a new one), in localStorage, so they show with no network (underground) and after a restart.
// The token is the key to the order: it never goes into a URL path or query (only a link's #fragment).

const KEY = "metro-qr.wallet.v1";

function read() {
  try {
    const data = JSON.parse(localStorage.getItem(KEY) || "{}");
    return data && typeof data === "object" && data.orders ? data : { orders: {} };
  } catch {
    return { orders: {} };
  }
}

const DONE = new Set(["used", "expired", "refunded", "revoked"]);

// Storage is a few megabytes and a ticket's QR about 10 KB: when it is full, the QRs of tickets that can no
// longer ride go first (their orders stay, with their links).
function write(data) {
  try {
    localStorage.setItem(KEY, JSON.stringify(data));
  } catch (error) {
    if (error?.name !== "QuotaExceededError") throw error;
    for (const held of Object.values(data.orders)) {
      for (const ticket of held.order?.tickets || []) {
        if (DONE.has(ticket.state)) {
          delete held.qr?.[ticket.id];
          delete held.qrFor?.[ticket.id];
        }
      }
    }
    localStorage.setItem(KEY, JSON.stringify(data)); // still full: the caller shows the error
  }
}

export function orders() {
  return Object.values(read().orders).sort((a, b) => (b.order?.created_at || "").localeCompare(a.order?.created_at || ""));
}

export function entry(orderId) {
  return read().orders[orderId] || null;
}

export function keep(orderId, token, order) {
  const data = read();
  const was = data.orders[orderId] || { qr: {} };
  data.orders[orderId] = { ...was, id: orderId, token, order: order ?? was.order ?? null, qr: was.qr || {} };
  if (data.orders[orderId].candidate === token || order) delete data.orders[orderId].candidate;
  write(data);
  return data.orders[orderId];
}

// A token from an order link that could not be checked (no network): tried on the next online visit.
export function keepCandidate(orderId, token) {
  const data = read();
  if (!data.orders[orderId] || data.orders[orderId].token === token) return;
  data.orders[orderId].candidate = token;
  write(data);
}

export function keepQr(orderId, ticketId, svg, payload) {
  const data = read();
  if (!data.orders[orderId]) return;
  data.orders[orderId].qr = { ...(data.orders[orderId].qr || {}), [ticketId]: svg };
  data.orders[orderId].qrFor = { ...(data.orders[orderId].qrFor || {}), [ticketId]: payload };
  write(data);
}

// Whether the QR kept for a ticket draws this payload: after a reissue the service signs a new one, and the
// one kept is refused at the gates.
export function hasQr(orderId, ticketId, payload) {
  const held = read().orders[orderId];
  return Boolean(held?.qr?.[ticketId]) && held?.qrFor?.[ticketId] === payload;
}

export function forget(orderId) {
  const data = read();
  delete data.orders[orderId];
  write(data);
}

// Every ticket held, with its order's id and token, newest order first.
export function tickets() {
  return orders().flatMap((held) =>
    (held.order?.tickets || []).map((ticket) => ({ ticket, orderId: held.id, token: held.token, svg: held.qr?.[ticket.id] })),
  );
}

export function findTicket(ticketId) {
  return tickets().find((held) => held.ticket.id === ticketId) || null;
}

// The link that carries an order to another device: the token rides in the fragment, which browsers never send.
export function orderLink(orderId, token) {
  return `${location.origin}/#/o/${encodeURIComponent(orderId)}/${encodeURIComponent(token)}`;
}
