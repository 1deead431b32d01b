// The console: sign-in, the API client, the router and small DOM helpers shared by the views.
// Plain ES modules served by the app itself (no build step, no CDN). The API decides what a token may
// see; the console only hides what the token's role may not do.

const API = "/api/v1/orchestrator";
const TOKEN_KEY = "orchestrator-console-token";

export const session = { token: null, claims: null, paths: new Set() };

export function isAdmin() {
  return session.claims?.role === "platform_admin";
}

export function canRetry() {
  return ["platform_admin", "tenant_admin"].includes(session.claims?.role);
}

function decodeClaims(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT (expected three dot-separated parts)");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const claims = JSON.parse(json);
  if (!claims.role) throw new Error("the token has no role claim");
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error("the token has expired");
  return claims;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, query } = {}) {
  // Paths are relative to the orchestrator's prefix unless they name their own (/api/..., /openapi.json).
  const url = new URL(path.startsWith("/api/") || path.startsWith("/openapi") ? path : API + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401) {
    signOut(data?.message || "signed out");
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- DOM helpers ----------------------------------------------------------------------------------
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// replaceChildren that skips null/false children and flattens arrays (the views build optional parts).
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 60) return `${value.toFixed(1)} s`;
  const m = Math.floor(value / 60);
  return m < 60 ? `${m} min ${Math.round(value % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function badge(status) {
  return h("span", { class: `badge st-${status}` }, status.replace(/_/g, " "));
}

export function errorBox(err) {
  const message = err instanceof ApiError ? `${err.status} ${err.body?.error || ""}: ${err.message}` : String(err);
  return h("p", { class: "error", role: "alert" }, message);
}

// --- routing --------------------------------------------------------------------------------------
let leaving = [];

// A view registers what stops it (its refresh timers); leaving the route calls them.
export function onLeave(fn) {
  leaving.push(fn);
}

const views = {
  executions: () => import("./executions.js"),
  execution: () => import("./execution.js"),
  schedule: () => import("./schedule.js"),
  accuracy: () => import("./extras.js"),
  network: () => import("./extras.js"),
};

async function route() {
  for (const stop of leaving.splice(0)) stop();
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean);
  let name = parts[0] || "executions";
  const params = Object.fromEntries(new URLSearchParams(search));
  if (name === "executions" && parts[1]) {
    name = "execution";
    params.id = decodeURIComponent(parts[1]);
  }
  if (!views[name]) name = "executions";
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.view === name || (name === "execution" && link.dataset.view === "executions"));
  }
  // Each route renders into its own element: a view still loading when the route changes writes into
  // a detached element, never over the new view.
  const root = h("div", { class: "view", "data-route": name });
  fill(document.getElementById("view"), root);
  fill(root, h("p", { class: "muted" }, "Loading…"));
  const module = await views[name]();
  const render = name === "accuracy" ? module.renderAccuracy : name === "network" ? module.renderNetwork : module.render;
  try {
    await render(root, params);
  } catch (err) {
    fill(root, errorBox(err));
  }
}

// --- sign in --------------------------------------------------------------------------------------
function signIn(token) {
  session.claims = decodeClaims(token.trim());
  session.token = token.trim();
  sessionStorage.setItem(TOKEN_KEY, session.token);
}

export function signOut(reason) {
  session.token = null;
  session.claims = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn(reason);
}

function showSignIn(reason) {
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("view").replaceChildren();
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-error").textContent = reason || "";
}

async function discover() {
  // Views that depend on routes other work adds (the accuracy history, the enterprise dashboard) appear
  // only when the API's own document lists those routes.
  try {
    const doc = await (await fetch("/openapi.json")).json();
    session.paths = new Set(Object.keys(doc.paths || {}));
  } catch {
    session.paths = new Set();
  }
  const accuracy = [...session.paths].some((p) => /\/accuracy|\/validation/.test(p));
  const network = [...session.paths].some((p) => /\/enterprise\/dashboard$/.test(p));
  document.querySelector('#nav a[data-view="accuracy"]').hidden = !accuracy;
  document.querySelector('#nav a[data-view="network"]').hidden = !network;
}

async function start() {
  document.getElementById("signin").hidden = true;
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const link of nav.querySelectorAll("[data-admin]")) link.hidden = !isAdmin();
  const c = session.claims;
  document.getElementById("who").textContent = `${c.sub} · ${c.role.replace(/_/g, " ")}${c.tenant_id ? ` · tenant ${c.tenant_id}` : ""}`;
  document.getElementById("signout").hidden = false;
  discover(); // the optional views' links appear when it answers; the first view does not wait for it
  await route();
}

function boot() {
  const fromLink = new URLSearchParams(location.hash.split("?")[1] || location.search).get("token");
  const hashToken = location.hash.startsWith("#token=") ? decodeURIComponent(location.hash.slice(7)) : null;
  const token = hashToken || fromLink || sessionStorage.getItem(TOKEN_KEY);
  if (hashToken) history.replaceState(null, "", `${location.pathname}#/executions`);
  document.getElementById("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      signIn(document.getElementById("token").value);
      document.getElementById("token").value = "";
      await start();
    } catch (err) {
      document.getElementById("signin-error").textContent = `Not signed in: ${err.message}`;
    }
  });
  document.getElementById("signout").addEventListener("click", () => signOut("Signed out."));
  window.addEventListener("hashchange", () => session.token && route());
  if (!token) return showSignIn();
  try {
    signIn(token);
  } catch (err) {
    return showSignIn(`Not signed in: ${err.message}`);
  }
  start();
}

boot();
