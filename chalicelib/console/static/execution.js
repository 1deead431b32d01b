// One execution: header with its ARN, a live progress bar, the graph coloured by state status (click a
// state for its input, output, error, cause and retries), the Map's tenants (search, status, paging),
// the logs (tenant, step, level) and, for those allowed, "Retry failed tenants" and "Cancel".
import { api, fill, badge, canRetry, errorBox, h, isAdmin, onLeave, seconds, when } from "./app.js";
import { LEGEND, drawGraph } from "./graph.js";

const REFRESH_MS = 2000;
const TENANT_PAGE = 50;
const LOG_PAGE = 100;
const STEPS = ["", "start_run", "list_tenants", "generate_forecasts", "plan_production", "calculate_procurement", "project_inventory", "validate_forecasts", "send_daily_summary", "finish_run", "fail_run", "alert", "cancel"];

export async function render(root, params) {
  const id = params.id;
  const state = { tenant: params.tenant || null, selected: null, graph: null, tenantQuery: { search: "", status: "", cursor: 0 } };
  let timer = null;
  onLeave(() => clearTimeout(timer));

  const head = h("div", { class: "view-head" });
  const actions = h("div", { class: "actions" });
  const progress = h("div", { class: "progress", id: "progress" });
  const graphBox = h("div", { class: "graph-box", id: "graph-box" });
  const legend = h("ul", { class: "legend" }, Object.entries(LEGEND).map(([k, v]) => h("li", {}, h("span", { class: `swatch st-${k}` }), v)));
  const detail = h("aside", { class: "detail card", id: "state-detail" }, h("p", { class: "muted" }, "Click a state for its input, output, error and retries."));
  const tenantBox = h("section", { class: "card", id: "tenants" });
  const logBox = h("section", { class: "card", id: "logs" });
  const message = h("div", { id: "message" });

  fill(root, 
    head,
    message,
    actions,
    progress,
    h("section", { class: "card" }, h("div", { class: "graph-head" }, h("h2", {}, "Graph"), legend, h("span", { id: "graph-scope", class: "muted small" })), h("div", { class: "graph-layout" }, graphBox, detail)),
    tenantBox,
    logBox,
  );

  async function loadExecution() {
    const data = await api(`/executions/${id}`, { query: { tenant_limit: 1 } });
    const e = data.execution;
    fill(head, 
      h("h1", { class: "mono wrap" }, e.execution_name),
      h("p", {}, badge(e.status), ` ${e.workflow_name} · ${e.scope} · ${e.trigger} · started ${when(e.started_at)} · ${seconds(e.duration_seconds)}`),
      e.execution_arn
        ? h(
            "p",
            { class: "small" },
            "ARN ",
            h("code", { id: "execution-arn", class: "wrap" }, e.execution_arn),
            " · ",
            h("a", { href: awsConsoleUrl(e.execution_arn), target: "_blank", rel: "noopener" }, "AWS console"),
            " · ",
            h("code", { class: "wrap" }, `aws stepfunctions get-execution-history --execution-arn ${e.execution_arn}`),
          )
        : null,
      e.error_message ? h("p", { class: "error" }, e.error_message) : null,
      e.retry_of ? h("p", {}, "Retry of ", h("a", { href: `#/executions/${e.retry_of}` }, e.retry_of)) : null,
      data.retries.length ? h("p", {}, "Retried by: ", data.retries.join(", ")) : null,
    );
    const done = e.tenants_processed + e.tenants_failed;
    const pct = e.tenants_total ? Math.round((100 * done) / e.tenants_total) : e.status === "running" ? 0 : 100;
    fill(progress, 
      h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(e.tenants_total), "aria-valuenow": String(done) },
        h("span", { class: "ok", style: `width:${e.tenants_total ? (100 * e.tenants_processed) / e.tenants_total : 0}%` }),
        h("span", { class: "bad", style: `width:${e.tenants_total ? (100 * e.tenants_failed) / e.tenants_total : 0}%` })),
      h("p", { class: "small" }, `${done} of ${e.tenants_total} tenants (${pct} %) · ${e.tenants_processed} ok · ${e.tenants_failed} failed · ${e.steps_completed}/${e.steps_total} steps`),
    );
    fill(actions, 
      canRetry() && ["failed", "completed_with_failures", "cancelled"].includes(e.status)
        ? h("button", { type: "button", id: "retry", onclick: () => retry(e) }, "Retry failed tenants")
        : null,
      isAdmin() && ["running", "pending"].includes(e.status) ? h("button", { type: "button", id: "cancel", class: "danger", onclick: () => cancel(e) }, "Cancel") : null,
    );
    return e;
  }

  async function retry(e) {
    try {
      const result = await api(`/executions/${id}/retry`, { method: "POST", body: {} });
      fill(message, h("p", { class: "ok-box", id: "retry-result" }, `Retry started: `, h("a", { href: "#/executions", "data-name": result.execution_name }, result.execution_name), ` (${result.tenant_ids ? result.tenant_ids.length : "all failed"} tenants)`));
      linkRetry(result.execution_name);
    } catch (err) {
      fill(message, errorBox(err));
    }
  }

  async function linkRetry(name) {
    // The new execution's row is written by its first step; find it and link to it.
    for (let i = 0; i < 60; i++) {
      const page = await api("/executions", { query: { limit: 20 } });
      const found = page.executions.find((x) => x.execution_name === name);
      if (found) {
        const link = document.querySelector("#retry-result a");
        if (link) link.setAttribute("href", `#/executions/${found.id}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function cancel(e) {
    if (!window.confirm(`Cancel ${e.execution_name}?`)) return;
    try {
      const result = await api(`/executions/${id}/cancel`, { method: "POST", body: { reason: "cancelled from the console" } });
      fill(message, h("p", { class: "ok-box" }, `Cancelled by ${result.cancelled_by}.`));
      refresh();
    } catch (err) {
      fill(message, errorBox(err));
    }
  }

  async function loadGraph() {
    let graph;
    try {
      graph = await api(`/executions/${id}/graph`, { query: { tenant_id: state.tenant } });
    } catch (err) {
      fill(graphBox, errorBox(err));
      return null;
    }
    state.graph = graph;
    fill(graphBox, drawGraph(graph.definition, graph.states, (name) => select(name)));
    document.getElementById("graph-scope").textContent = graph.map?.tenant_id
      ? `Map states for tenant ${graph.map.tenant_id}`
      : `Map states over all tenants · ${graph.history_events} history events`;
    if (state.selected) select(state.selected);
    return graph;
  }

  function select(name) {
    state.selected = name;
    for (const g of graphBox.querySelectorAll("g.state")) g.classList.toggle("selected", g.dataset.state === name);
    const info = state.graph?.states[name] || {};
    const rows = [
      ["Status", badge(info.status || "not_started")],
      info.succeeded !== null && info.succeeded !== undefined ? ["Tenants", `${info.succeeded} succeeded · ${info.failed} failed · ${info.total} in the run`] : null,
      ["Entered", when(info.entered_at)],
      ["Duration", info.duration_ms !== null && info.duration_ms !== undefined ? `${info.duration_ms} ms` : "–"],
      ["Attempts", `${info.attempts || 0} (retries: ${info.retries || 0})`],
      ["Error", info.error || "–"],
    ].filter(Boolean);
    fill(detail, 
      h("h3", {}, name),
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      info.cause ? [h("h4", {}, "Cause"), h("pre", {}, info.cause)] : null,
      info.input ? [h("h4", {}, "Input"), h("pre", {}, pretty(info.input))] : null,
      info.output ? [h("h4", {}, "Output"), h("pre", {}, pretty(info.output))] : null,
      info.truncated ? h("p", { class: "muted small" }, `Cut at ${state.graph.data_limit_chars} characters.`) : null,
    );
  }

  async function loadTenants() {
    const q = state.tenantQuery;
    let page;
    try {
      page = await api(`/executions/${id}/tenants`, { query: { search: q.search, status: q.status, cursor: q.cursor, limit: TENANT_PAGE } });
    } catch (err) {
      fill(tenantBox, h("h2", {}, "Tenants"), errorBox(err));
      return;
    }
    const search = h("input", { type: "search", id: "tenant-search", placeholder: "search id or name", value: q.search });
    const status = h("select", { id: "tenant-status" }, ["", "pending", "running", "completed", "failed", "not_run"].map((s) => h("option", { value: s, selected: s === q.status }, s || "any status")));
    const form = h("form", { class: "filters" }, search, status, h("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      Object.assign(q, { search: search.value, status: status.value, cursor: 0 });
      loadTenants();
    });
    const counts = Object.entries(page.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k.replace("_", " ")}`).join(" · ");
    fill(tenantBox, 
      h("h2", {}, "Tenants ", h("span", { class: "muted small" }, `${page.total} in the run · ${counts}`)),
      form,
      state.tenant ? h("p", { class: "small" }, `Graph and logs show tenant ${state.tenant}. `, h("button", { type: "button", class: "link", onclick: () => pickTenant(null) }, "Show all tenants")) : null,
      h("div", { class: "table-wrap" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {}, ["Tenant", "Status", "Steps ok / failed", "Time in steps", "Failing step", "Error"].map((c) => h("th", {}, c)))),
          h("tbody", {}, page.tenants.map((t) =>
            h("tr", { dataset: { tenant: t.tenant_id, status: t.status }, class: t.tenant_id === state.tenant ? "selected" : null },
              h("td", {}, h("button", { type: "button", class: "link", onclick: () => pickTenant(t.tenant_id) }, t.name || t.tenant_id), h("div", { class: "muted small mono" }, t.tenant_id)),
              h("td", {}, badge(t.status)),
              h("td", {}, `${t.steps_completed} / ${t.steps_failed}`),
              h("td", { class: "nowrap" }, t.duration_ms === null ? "–" : `${(t.duration_ms / 1000).toFixed(2)} s`),
              h("td", {}, t.failed_step || "–"),
              h("td", { class: "error-cell" }, t.error_type ? `${t.error_type}: ${t.error_message || ""}` : "–"),
            ))),
        ),
      ),
      h("div", { class: "pager" },
        h("button", { type: "button", disabled: q.cursor === 0, onclick: () => { q.cursor = Math.max(0, q.cursor - TENANT_PAGE); loadTenants(); } }, "‹ Previous"),
        h("span", { class: "muted" }, page.matched ? `${q.cursor + 1}–${q.cursor + page.count} of ${page.matched}` : "none"),
        h("button", { type: "button", id: "tenants-next", disabled: page.next_cursor === null, onclick: () => { q.cursor = page.next_cursor; loadTenants(); } }, "Next ›"),
      ),
    );
  }

  function pickTenant(tenant) {
    state.tenant = tenant;
    logFilters.tenant_id = tenant || "";
    loadTenants();
    loadGraph();
    loadLogs(true);
  }

  const logFilters = { tenant_id: state.tenant || "", step_name: "", level: "" };
  let logCursor = 0;
  async function loadLogs(reset) {
    if (reset) logCursor = 0;
    let page;
    try {
      page = await api(`/executions/${id}/logs`, { query: { ...logFilters, after: logCursor, limit: LOG_PAGE } });
    } catch (err) {
      fill(logBox, h("h2", {}, "Logs"), errorBox(err));
      return;
    }
    const tenant = h("input", { name: "tenant_id", placeholder: "tenant id", value: logFilters.tenant_id });
    const step = h("select", { name: "step_name" }, STEPS.map((s) => h("option", { value: s, selected: s === logFilters.step_name }, s || "any step")));
    const level = h("select", { name: "level" }, ["", "DEBUG", "INFO", "WARNING", "ERROR"].map((s) => h("option", { value: s, selected: s === logFilters.level }, s || "any level")));
    const form = h("form", { class: "filters", id: "log-filters" }, tenant, step, level, h("button", { type: "submit" }, "Filter"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      Object.assign(logFilters, { tenant_id: tenant.value.trim(), step_name: step.value, level: level.value });
      loadLogs(true);
    });
    const rows = page.logs.map((l) =>
      h("tr", { class: `lvl-${l.level}` },
        h("td", { class: "nowrap small" }, when(l.created_at)),
        h("td", {}, l.level),
        h("td", {}, l.step_name),
        h("td", { class: "mono small" }, l.tenant_id || "–"),
        h("td", {}, l.message),
      ));
    const table = reset || !logBox.querySelector("tbody")
      ? h("table", { class: "list logs" }, h("thead", {}, h("tr", {}, ["Time", "Level", "Step", "Tenant", "Message"].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
      : null;
    if (table) {
      fill(logBox, h("h2", {}, "Logs ", h("span", { class: "muted small" }, `${page.total} matching`)), form, h("div", { class: "table-wrap" }, table));
    } else {
      logBox.querySelector("tbody").append(...rows);
    }
    logBox.querySelector(".more")?.remove();
    if (page.next_cursor) {
      logBox.append(h("button", { type: "button", class: "more", onclick: () => { logCursor = page.next_cursor; loadLogs(false); } }, "Load more"));
    }
  }

  async function refresh(first = false) {
    clearTimeout(timer);
    // The header, graph, tenants (and on the first load the logs) are fetched side by side.
    const [e] = await Promise.all([
      loadExecution().catch((err) => {
        fill(head, errorBox(err));
        return null;
      }),
      loadGraph(),
      loadTenants(),
      first ? loadLogs(true) : null,
    ]);
    if (e && (e.status === "running" || e.status === "pending")) timer = setTimeout(refresh, REFRESH_MS);
  }

  await refresh(true);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function awsConsoleUrl(arn) {
  const region = arn.split(":")[3] || "us-east-1";
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(arn)}`;
}
