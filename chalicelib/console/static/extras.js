// Views over routes that other work adds: the forecast accuracy history and the enterprise network
// dashboard. Each appears in the navigation only when /openapi.json lists its routes; until those routes
// exist their response shapes are not known, so these views render what they find generically (numbers
// as cards, lists as tables) and draw the MAPE trend when the data has dated MAPE values.
import { api, fill, errorBox, h, isAdmin, session } from "./app.js";

const SVG = "http://www.w3.org/2000/svg";
const THRESHOLDS = [20, 30];

function firstPath(pattern) {
  return [...session.paths].filter((p) => pattern.test(p) && !p.includes("{execution_id}")).sort()[0];
}

export async function renderAccuracy(root) {
  const path = firstPath(/\/(accuracy|validation)/);
  fill(root, h("h1", {}, "Accuracy"));
  if (!path) {
    root.append(h("p", { class: "muted" }, "The API lists no accuracy routes yet."));
    return;
  }
  const tenantPath = path.replace(/\{[^}]+\}/g, session.claims.tenant_id || "");
  try {
    const data = await api(tenantPath, { query: { days: 30 } });
    const series = findSeries(data);
    if (series.length) root.append(h("section", { class: "card" }, h("h2", {}, "MAPE, last 30 days"), trendChart(series)));
    root.append(generic(data));
  } catch (err) {
    root.append(errorBox(err));
  }
}

export async function renderNetwork(root) {
  const path = firstPath(/\/enterprise\/dashboard$/);
  fill(root, h("h1", {}, "Network"));
  if (!path) {
    root.append(h("p", { class: "muted" }, "The API lists no enterprise dashboard yet."));
    return;
  }
  const parent = h("input", { id: "parent-tenant", placeholder: "parent tenant id", value: session.claims.tenant_id || "" });
  const out = h("div", {});
  const form = h("form", { class: "filters" }, parent, h("button", { type: "submit" }, "Show"));
  async function show() {
    try {
      fill(out, generic(await api(path.replace("{parent_tenant}", encodeURIComponent(parent.value.trim())))));
    } catch (err) {
      fill(out, errorBox(err));
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  // A platform admin picks the parent; a tenant's token shows its own network.
  if (isAdmin()) root.append(form);
  root.append(out);
  if (parent.value) await show();
}

function findSeries(data) {
  // An array of objects with a date and a MAPE value, anywhere in the response.
  const found = [];
  const visit = (value) => {
    if (Array.isArray(value)) {
      const points = value
        .filter((v) => v && typeof v === "object")
        .map((v) => ({ date: v.date || v.day || v.validated_at, mape: v.mape ?? v.overall_mape ?? v.mape_percent }))
        .filter((p) => p.date && typeof p.mape === "number");
      if (points.length && !found.length) found.push(...points);
      value.forEach(visit);
    } else if (value && typeof value === "object") {
      Object.values(value).forEach(visit);
    }
  };
  visit(data);
  return found.sort((a, b) => String(a.date).localeCompare(String(b.date)));
}

function trendChart(points) {
  const w = 640;
  const hgt = 220;
  const pad = 32;
  const top = Math.max(40, ...points.map((p) => p.mape)) * 1.1;
  const x = (i) => pad + (i * (w - 2 * pad)) / Math.max(1, points.length - 1);
  const y = (v) => hgt - pad - (v * (hgt - 2 * pad)) / top;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "chart");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    svg.append(node);
  };
  for (const t of THRESHOLDS) {
    add("line", { x1: pad, x2: w - pad, y1: y(t), y2: y(t), class: `threshold t${t}` });
    add("text", { x: w - pad, y: y(t) - 4, class: "sub right" }, `${t} %`);
  }
  add("polyline", { points: points.map((p, i) => `${x(i)},${y(p.mape)}`).join(" "), class: "trend" });
  add("text", { x: pad, y: hgt - 8, class: "sub left" }, String(points[0].date).slice(0, 10));
  add("text", { x: w - pad, y: hgt - 8, class: "sub right" }, String(points[points.length - 1].date).slice(0, 10));
  return svg;
}

function generic(data) {
  const scalars = Object.entries(data || {}).filter(([, v]) => v === null || typeof v !== "object");
  const nested = Object.entries(data || {}).filter(([, v]) => v && typeof v === "object");
  return h("div", {},
    scalars.length ? h("div", { class: "cards" }, scalars.map(([k, v]) => h("div", { class: "card stat" }, h("div", { class: "muted small" }, k.replace(/_/g, " ")), h("div", { class: "big" }, String(v))))) : null,
    nested.map(([k, v]) => h("section", { class: "card" }, h("h2", {}, k.replace(/_/g, " ")), Array.isArray(v) ? table(v) : generic(v))),
  );
}

function table(rows) {
  const objects = rows.filter((r) => r && typeof r === "object");
  if (!objects.length) return h("p", {}, rows.join(", "));
  const columns = [...new Set(objects.flatMap((r) => Object.keys(r)))].slice(0, 10);
  return h("div", { class: "table-wrap" }, h("table", { class: "list" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.replace(/_/g, " "))))),
    h("tbody", {}, objects.map((r) => h("tr", {}, columns.map((c) => h("td", {}, typeof r[c] === "object" && r[c] !== null ? JSON.stringify(r[c]) : String(r[c] ?? "–"))))))));
}
