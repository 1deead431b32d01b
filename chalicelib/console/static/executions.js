// The executions list: filters, the API's cursor paging, auto-refresh while something runs.
import { api, fill, badge, errorBox, h, isAdmin, onLeave, seconds, session, when } from "./app.js";

const STATUSES = ["", "running", "completed", "completed_with_failures", "failed", "cancelled", "pending"];
const REFRESH_MS = 3000;

export async function render(root, params) {
  const filters = {
    workflow: params.workflow || "",
    status: params.status || "",
    date_from: params.date_from || "",
    date_to: params.date_to || "",
    tenant_id: params.tenant_id || (session.claims.tenant_id && !isAdmin() ? "" : ""),
  };
  const cursors = [null]; // cursor of each page visited (the API pages forward only)
  let timer = null;
  let workflows = [];
  if (isAdmin()) {
    try {
      workflows = (await api("/workflows")).workflows.map((w) => w.name);
    } catch {
      workflows = [];
    }
  }
  const table = h("div", { class: "table-wrap" });
  const pager = h("div", { class: "pager" });
  const status = h("p", { class: "muted small" });

  const field = (label, input) => h("label", { class: "field" }, h("span", {}, label), input);
  const workflowInput = workflows.length
    ? h("select", { name: "workflow" }, h("option", { value: "" }, "all"), workflows.map((w) => h("option", { value: w, selected: w === filters.workflow }, w)))
    : h("input", { name: "workflow", value: filters.workflow, placeholder: "daily_operations" });
  const form = h(
    "form",
    { class: "filters", id: "filters" },
    field("Workflow", workflowInput),
    field("Status", h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any")))),
    field("From", h("input", { type: "date", name: "date_from", value: filters.date_from })),
    field("To", h("input", { type: "date", name: "date_to", value: filters.date_to })),
    isAdmin() ? field("Tenant", h("input", { name: "tenant_id", value: filters.tenant_id, placeholder: "tenant id" })) : null,
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const [key, value] of new FormData(form)) filters[key] = value;
    cursors.length = 1;
    load(0);
  });

  async function load(page) {
    clearTimeout(timer);
    let data;
    try {
      data = await api("/executions", { query: { ...filters, limit: 25, cursor: cursors[page] } });
    } catch (err) {
      fill(table, errorBox(err));
      return;
    }
    if (data.next_cursor) cursors[page + 1] = data.next_cursor;
    fill(table, listTable(data.executions));
    fill(pager, 
      h("button", { type: "button", disabled: page === 0, onclick: () => load(page - 1) }, "‹ Newer"),
      h("span", { class: "muted" }, `page ${page + 1}`),
      h("button", { type: "button", id: "next-page", disabled: !data.next_cursor, onclick: () => load(page + 1) }, "Older ›"),
    );
    const running = data.executions.some((e) => e.status === "running" || e.status === "pending");
    status.textContent = `${data.count} shown · updated ${new Date().toISOString().slice(11, 19)} UTC${running ? " · refreshing while runs are in progress" : ""}`;
    if (running) timer = setTimeout(() => load(page), REFRESH_MS);
  }
  onLeave(() => clearTimeout(timer));

  fill(root, 
    h("div", { class: "view-head" }, h("h1", {}, "Executions"), status),
    form,
    table,
    pager,
  );
  await load(0);
}

function listTable(executions) {
  if (!executions.length) return h("p", { class: "muted" }, "No executions match.");
  return h(
    "table",
    { class: "list", id: "executions" },
    h("thead", {}, h("tr", {}, ["Execution", "Workflow", "Scope", "Trigger", "Status", "Started", "Duration", "Tenants ok / failed", "Cost"].map((c) => h("th", {}, c)))),
    h(
      "tbody",
      {},
      executions.map((e) =>
        h(
          "tr",
          { dataset: { id: e.id, status: e.status } },
          h("td", {}, h("a", { href: `#/executions/${e.id}`, class: "mono" }, e.execution_name)),
          h("td", {}, e.workflow_name),
          h("td", {}, e.scope),
          h("td", {}, e.trigger.replace(/catch_?up/, "catch-up")),
          h("td", {}, badge(e.status)),
          h("td", { class: "nowrap" }, when(e.started_at)),
          h("td", { class: "nowrap" }, seconds(e.duration_seconds)),
          h("td", {}, `${e.tenants_processed} / ${e.tenants_failed}`, e.tenants_total ? h("span", { class: "muted" }, ` of ${e.tenants_total}`) : null),
          h("td", { class: "nowrap" }, e.cost_eur === null || e.cost_eur === undefined ? "–" : `€${e.cost_eur.toFixed(5)}`),
        ),
      ),
    ),
  );
}
