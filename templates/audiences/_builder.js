// The rule builder: edits the rules tree in place, asks the server (audience_preview) to validate it,
// count the matches and write the canonical text query; typing a query rebuilds the tree the same
// way. The server is the only judge of a rule, so the builder and the API never disagree.
(function () {
  "use strict";
  const root = document.getElementById("rule-builder");
  const form = document.getElementById("audience-form");
  const queryInput = document.getElementById("id_query");
  const queryErrors = document.getElementById("query-errors");
  const countEl = document.getElementById("live-count");
  const statusEl = document.getElementById("live-status");
  const previewRows = document.getElementById("preview-rows");
  const saveButton = document.getElementById("save-button");
  const catalog = JSON.parse(document.getElementById("audience-catalog").textContent);
  const fields = Object.fromEntries(catalog.map((f) => [f.name, f]));
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const MAX_DEPTH = 3;
  const LIST_OPS = ["in", "not in"];
  const NO_VALUE_OPS = ["is empty", "is not empty"];
  let state = JSON.parse(document.getElementById("audience-rules").textContent);
  let timer = null;
  let requestSerial = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function defaultRule(name) {
    const field = fields[name] || catalog[0];
    const rule = { field: field.name, operator: field.operators[0] };
    if (field.kind === "datetime") rule.operator = ">=";
    rule.value = defaultValue(field, rule.operator);
    return rule;
  }

  function defaultValue(field, operator) {
    if (NO_VALUE_OPS.includes(operator)) return undefined;
    let value = "";
    if (field.choices.length) value = field.choices[0];
    else if (field.kind.endsWith("boolean")) value = true;
    else if (field.kind === "within" || field.kind === "datetime") value = "30d";
    else if (field.kind.endsWith("number")) value = 1;
    return LIST_OPS.includes(operator) ? (value === "" ? [] : [value]) : value;
  }

  // --- rendering -----------------------------------------------------------------------------

  function render() {
    root.replaceChildren(renderGroup(state, "", 1));
    root.hidden = false;
  }

  function renderGroup(group, path, depth, remove) {
    const children = el("div", { class: "group-children" });
    group.rules.forEach((child, index) => {
      const childPath = path ? `${path}.rules[${index}]` : `rules[${index}]`;
      const remove = () => { group.rules.splice(index, 1); changed(); };
      children.append("group" in child ? renderGroup(child, childPath, depth + 1, remove) : renderRule(child, childPath, remove));
    });
    const combinator = el("select", { "aria-label": "Match", onchange: (e) => { group.group = e.target.value; changed(); } },
      el("option", { value: "and", selected: group.group === "and" }, "all of"),
      el("option", { value: "or", selected: group.group === "or" }, "any of"));
    const head = el("div", { class: "group-head" }, "Members matching ", combinator, " these rules",
      el("span", { class: "rule-error", "data-error-for": path }));
    const actions = el("div", { class: "group-head" },
      el("button", { type: "button", class: "secondary small", onclick: () => { group.rules.push(defaultRule("status")); changed(); } }, "+ Rule"),
      depth < MAX_DEPTH ? el("button", { type: "button", class: "secondary small",
        onclick: () => { group.rules.push({ group: group.group === "and" ? "or" : "and", rules: [defaultRule("status")] }); changed(); } }, "+ Group") : null,
      path ? el("button", { type: "button", class: "secondary small", onclick: remove }, "Remove group") : null);
    return el("div", { class: "rule-group", "data-path": path }, head, children, actions);
  }

  function renderRule(rule, path, remove) {
    const field = fields[rule.field] || { name: rule.field, label: rule.field, kind: "text", operators: [rule.operator], choices: [] };
    const fieldSelect = el("select", { "aria-label": "Field", onchange: (e) => { Object.assign(rule, defaultRule(e.target.value)); changed(); } });
    const sections = {};
    for (const option of catalog) {
      sections[option.section] = sections[option.section] || fieldSelect.appendChild(el("optgroup", { label: option.section }));
      sections[option.section].append(el("option", { value: option.name, selected: option.name === rule.field }, option.label));
    }
    const operatorSelect = el("select", { "aria-label": "Operator", onchange: (e) => {
      const wasList = LIST_OPS.includes(rule.operator);
      rule.operator = e.target.value;
      if (NO_VALUE_OPS.includes(rule.operator)) delete rule.value;
      else if (LIST_OPS.includes(rule.operator) && !wasList) rule.value = rule.value === undefined || rule.value === "" ? [] : [rule.value];
      else if (!LIST_OPS.includes(rule.operator) && wasList) rule.value = (rule.value || [])[0] ?? defaultValue(field, rule.operator);
      else if (rule.value === undefined) rule.value = defaultValue(field, rule.operator);
      changed();
    } }, ...field.operators.map((op) => el("option", { value: op, selected: op === rule.operator }, op)));
    return el("div", { class: "rule-row", "data-path": path }, fieldSelect, operatorSelect, valueInput(rule, field),
      el("button", { type: "button", class: "secondary small", "aria-label": "Remove rule", onclick: remove }, "×"),
      el("span", { class: "rule-error", "data-error-for": path }));
  }

  function valueInput(rule, field) {
    if (NO_VALUE_OPS.includes(rule.operator)) return null;
    const isList = LIST_OPS.includes(rule.operator);
    const set = (value) => { rule.value = value; schedule(); };
    if (field.choices.length) {
      const values = isList ? rule.value || [] : [rule.value];
      return el("select", { "aria-label": "Value", multiple: isList, onchange: (e) => {
        const chosen = [...e.target.selectedOptions].map((o) => o.value);
        set(isList ? chosen : chosen[0]);
      } }, ...field.choices.map((c) => el("option", { value: c, selected: values.includes(c) }, c)));
    }
    if (field.kind.endsWith("boolean")) {
      return el("select", { "aria-label": "Value", onchange: (e) => set(e.target.value === "true") },
        el("option", { value: "true", selected: rule.value === true }, "yes"),
        el("option", { value: "false", selected: rule.value === false }, "no"));
    }
    if (field.kind === "within") {
      const days = String(rule.value || "30d").replace(/d$/i, "");
      return el("span", {}, el("input", { type: "number", min: 1, max: 3650, value: days, "aria-label": "Days",
        oninput: (e) => set(`${e.target.value}d`) }), " days");
    }
    const number = field.kind.endsWith("number") && !isList;
    const shown = isList ? (rule.value || []).join(", ") : rule.value ?? "";
    const placeholder = isList ? "a, b, c" : field.kind.includes("date") ? "2025-01-31 or 30d" : "";
    return el("input", { type: number ? "number" : "text", step: number ? "any" : undefined, value: shown,
      placeholder, "aria-label": "Value", oninput: (e) => {
        const raw = e.target.value;
        if (isList) set(raw.split(",").map((v) => v.trim()).filter(Boolean));
        else if (number && raw !== "" && !Number.isNaN(Number(raw))) set(Number(raw));
        else set(raw);
      } });
  }

  // --- server round trips --------------------------------------------------------------------

  function changed() { render(); schedule(); }

  function schedule(payload) {
    clearTimeout(timer);
    timer = setTimeout(() => preview(payload || { rules: state }), 300);
  }

  async function preview(payload) {
    const serial = ++requestSerial;
    statusEl.textContent = "Counting…";
    let response, data;
    try {
      response = await fetch(root.dataset.previewUrl, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(payload),
      });
      data = await response.json();
    } catch (error) {
      if (serial === requestSerial) statusEl.textContent = "Could not reach the server; try again.";
      return;
    }
    if (serial !== requestSerial) return; // a newer edit is already on its way
    clearErrors();
    if (!data.ok) {
      showProblems(data.problems, "query" in payload ? payload.query : null);
      statusEl.textContent = "Fix the highlighted rule to see matches.";
      if (saveButton) saveButton.disabled = "rules" in payload; // the text box no longer says what the builder shows
      return;
    }
    if (saveButton) saveButton.disabled = false;
    if ("query" in payload) { state = data.rules; render(); } else { queryInput.value = data.query; }
    countEl.textContent = data.count.toLocaleString();
    statusEl.textContent = data.query ? "" : "No rules: every member of the list.";
    showMembers(data.members);
  }

  function clearErrors() {
    queryErrors.replaceChildren();
    for (const node of root.querySelectorAll("[data-error-for]")) node.textContent = "";
    for (const node of root.querySelectorAll(".invalid")) node.classList.remove("invalid");
  }

  function showProblems(problems, query) {
    const list = el("ul", { class: "errorlist" });
    for (const problem of problems) {
      const target = query === null ? root.querySelector(`[data-error-for="${CSS.escape(problem.path)}"]`) : null;
      if (target) {
        target.textContent = problem.message;
        target.parentElement.classList.add("invalid");
      } else {
        list.append(el("li", {}, problem.message));
        if (query !== null && problem.position !== null) {
          list.append(el("pre", { class: "pointer" }, `${query}\n${" ".repeat(problem.position)}^`));
        }
      }
    }
    if (list.children.length) queryErrors.append(list);
  }

  function showMembers(members) {
    if (!members.length) {
      previewRows.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Nobody matches these rules.")));
      return;
    }
    previewRows.replaceChildren(...members.map((m) => el("tr", {},
      el("td", {}, el("a", { href: m.url }, m.phone_number)),
      el("td", {}, m.name || "—"),
      el("td", {}, el("span", { class: `badge ${m.status}` }, m.status_label)),
      el("td", { class: "num" }, m.send_count.toLocaleString()),
      el("td", { class: "num" }, m.click_count.toLocaleString()),
      el("td", { class: "num" }, `$${m.revenue_total}`))));
  }

  queryInput.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => preview({ query: queryInput.value }), 450);
  });
  form.addEventListener("submit", () => { if (saveButton) saveButton.disabled = false; });

  render();
  preview({ query: queryInput.value });
})();
