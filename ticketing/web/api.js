// The public API of the issuing service, as the rider's app uses it. Every error is an ApiError with the
// service's own `code` and `detail`; no network at all is code "offline".

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

// A request that stalls (one bar of signal underground) counts as no network after this long, the answer's
// body included: the app then shows what it keeps instead of waiting.
const TIMEOUT_MS = 6000;

function deadline() {
  if (typeof AbortSignal.timeout === "function") return AbortSignal.timeout(TIMEOUT_MS);
  const controller = new AbortController(); // browsers before AbortSignal.timeout
  setTimeout(() => controller.abort(), TIMEOUT_MS);
  return controller.signal;
}

// The answer (status and body text), or ApiError "offline" when there is none in time.
async function fetched(path, options) {
  try {
    const answer = await fetch(path, { ...options, cache: "no-store", signal: deadline() });
    return { answer, text: await answer.text() };
  } catch (error) {
    throw new ApiError(0, "offline", String(error));
  }
}

export async function call(path, { method = "GET", token, body, headers = {} } = {}) {
  const sent = { ...headers };
  if (token) sent.Authorization = `Bearer ${token}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const { answer, text } = await fetched(path, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!answer.ok) {
    throw new ApiError(answer.status, data?.code ?? "http_error", data?.detail ?? answer.statusText);
  }
  return data;
}

// An image answer (the ticket's or the payment's QR) as text: an SVG the app keeps for offline use.
export async function svgText(path, token) {
  const { answer, text } = await fetched(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!answer.ok) throw new ApiError(answer.status, "http_error", answer.statusText);
  return text;
}

export async function pngBlob(path, token) {
  let answer;
  try {
    answer = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store", signal: deadline() });
  } catch (error) {
    throw new ApiError(0, "offline", String(error));
  }
  if (!answer.ok) throw new ApiError(answer.status, "http_error", answer.statusText);
  return answer.blob();
}

export const network = () => call("/v1/network");
export const policy = () => call("/v1/policy");
export const quote = (origin, destination, payment) =>
  call(`/v1/fares/quote?${new URLSearchParams({ origin, destination, payment })}`);
export const checkHolder = (holder) => call("/v1/holders/check", { method: "POST", body: holder });
export const createOrder = (items, key) =>
  call("/v1/orders", { method: "POST", body: { items }, headers: { "Idempotency-Key": key } });
export const readOrder = (id, token) => call(`/v1/orders/${encodeURIComponent(id)}`, { token });
export const simulateBank = (id, token) =>
  call(`/v1/sandbox/orders/${encodeURIComponent(id)}/pay`, { method: "POST", token });
export const refund = (ticketId, token) =>
  call(`/v1/tickets/${encodeURIComponent(ticketId)}/refund`, { method: "POST", token });
export const recover = (body) => call("/v1/orders/recover", { method: "POST", body });
export const ticketSvg = (ticketId, token) => svgText(`/v1/tickets/${encodeURIComponent(ticketId)}/qr.svg`, token);
export const paymentSvg = (orderId, token) =>
  svgText(`/v1/orders/${encodeURIComponent(orderId)}/payment/qr.svg`, token);
export const ticketPng = (ticketId, token) => pngBlob(`/v1/tickets/${encodeURIComponent(ticketId)}/qr.png`, token);
