// The audit API, as any auditor's tool calls it: GET /v1/audit/... with the auditor's token. The token lives in
// this tab's session storage only (never in a URL, which logs and history keep), and goes in a header.

const KEY = "metro-qr.audit.token";

export const session = {
  token: () => sessionStorage.getItem(KEY),
  keep: (token) => sessionStorage.setItem(KEY, token),
  end: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function query(params) {
  const kept = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return kept.length ? `?${new URLSearchParams(kept)}` : "";
}

async function fetched(path, params, token) {
  let answer;
  try {
    answer = await fetch(`${path}${query(params)}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "offline", String(error));
  }
  const text = await answer.text();
  if (!answer.ok) {
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    throw new ApiError(answer.status, body?.code ?? "http_error", body?.detail ?? answer.statusText);
  }
  return text;
}

// GET /v1/audit/<path>?params as JSON, with the signed-in token (or `token`, to try one before keeping it).
export async function audit(path, params = {}, token = session.token()) {
  return JSON.parse(await fetched(`/v1/audit/${path}`, params, token));
}

// The API's own CSV of the same query (format=csv), saved as a file: exactly what the view shows.
export async function downloadCsv(path, params, name) {
  const text = await fetched(`/v1/audit/${path}`, { ...params, format: "csv" }, session.token());
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `${name}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Public reference data: stations and products for the filters, the local time offset.
export async function publicJson(path) {
  return JSON.parse(await fetched(path, {}, null));
}
