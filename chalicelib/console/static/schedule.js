// The schedule: each workflow's cron and timezone scopes, the next run per scope (holidays and weekends
// applied), the holidays skipped on the way, and for platform admins enable/disable and edit.
import { api, fill, badge, errorBox, h, isAdmin, when } from "./app.js";

export async function render(root) {
  if (!isAdmin()) {
    fill(root, h("h1", {}, "Schedule"), h("p", { class: "muted" }, "The schedule is for platform admins."));
    return;
  }
  const message = h("div", { id: "message" });
  const list = h("div", { id: "schedule" });
  fill(root, h("div", { class: "view-head" }, h("h1", {}, "Schedule")), message, list);

  async function load() {
    const data = await api("/schedule");
    fill(list, ...data.workflows.map((w) => card(w)));
  }

  function card(w) {
    const edit = h("form", { class: "edit", hidden: true },
      field("Cron (local time)", h("input", { name: "cron_expression", value: w.cron_expression, required: true })),
      field("Timezone", h("input", { name: "timezone", value: w.timezone, required: true })),
      field("Holidays", h("select", { name: "holiday_policy" }, ["run", "skip", "next_business_day"].map((p) => h("option", { value: p, selected: p === w.holiday_policy }, p)))),
      field("Weekends", h("input", { name: "weekend_cron", value: w.weekend_cron || "", placeholder: "same cron · skip · a cron" })),
      h("button", { type: "submit" }, "Save"),
    );
    edit.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(new FormData(edit));
      body.weekend_cron = body.weekend_cron.trim() || null;
      try {
        await api(`/workflows/${w.workflow_name}`, { method: "PUT", body });
        fill(message, h("p", { class: "ok-box" }, `${w.workflow_name} saved; EventBridge rules reconciled.`));
        await load();
      } catch (err) {
        fill(message, errorBox(err));
      }
    });
    const toggle = h("button", { type: "button", class: w.enabled ? "danger" : "", onclick: async () => {
      try {
        await api(`/workflows/${w.workflow_name}/${w.enabled ? "disable" : "enable"}`, { method: "POST" });
        await load();
      } catch (err) {
        fill(message, errorBox(err));
      }
    } }, w.enabled ? "Disable" : "Enable");
    return h("section", { class: "card", dataset: { workflow: w.workflow_name } },
      h("div", { class: "row" },
        h("h2", {}, w.workflow_name),
        badge(w.enabled ? "enabled" : "disabled"),
        w.deployed ? null : h("span", { class: "muted small" }, "no state machine deployed"),
        h("span", { class: "spacer" }),
        toggle,
        h("button", { type: "button", onclick: () => { edit.hidden = !edit.hidden; } }, "Edit"),
      ),
      h("p", {}, h("code", {}, w.cron_expression), ` in ${w.timezone} · holidays: ${w.holiday_policy} · weekends: ${w.weekend_cron || "same cron"} · catch-up: ${w.catchup_policy}`),
      edit,
      h("div", { class: "table-wrap" },
        h("table", { class: "list next-runs" },
          h("thead", {}, h("tr", {}, ["Scope", "Next run (local)", "Next run (UTC)", "Why", "Skipped on the way"].map((c) => h("th", {}, c)))),
          h("tbody", {}, w.next_runs.map((n) =>
            h("tr", { dataset: { scope: n.scope } },
              h("td", {}, n.scope),
              h("td", { class: "next-local" }, n.local_time || "–"),
              h("td", { class: "nowrap" }, when(n.next_run_at)),
              h("td", {}, n.reason.replace(/_/g, " "), n.holiday ? ` (${n.holiday})` : "", n.shifted_from ? ` from ${n.shifted_from}` : ""),
              h("td", {}, n.skipped.length ? n.skipped.map((s) => h("div", { class: "small" }, `${s.local_date}: ${s.holiday || s.reason}`)) : "–"),
            ))),
        ),
      ),
    );
  }

  try {
    await load();
  } catch (err) {
    fill(list, errorBox(err));
  }
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}
