// The web UI of Library: lists, creates, edits and deletes records
// through the REST API. Data from the server is only ever put on the page
// as text (textContent, option.text, input.value), never as HTML.
"use strict";

const SCHEMA = [{"display":"name","fields":[{"label":"Name","name":"name","required":false,"type":"string"},{"label":"Email","name":"email","required":false,"type":"email"},{"label":"Bio","name":"bio","required":false,"type":"text"}],"label":"Author","name":"author","plural":"authors","pluralLabel":"Authors","search":false},{"display":"title","fields":[{"label":"Title","name":"title","required":false,"type":"string"},{"label":"Published year","name":"published_year","required":false,"type":"integer"},{"label":"Isbn","name":"isbn","required":false,"type":"string"},{"label":"Price","name":"price","required":false,"type":"decimal"},{"label":"Available","name":"available","required":false,"type":"boolean"},{"label":"Author","name":"author_id","ref":"authors","required":true,"type":"ref"}],"label":"Book","name":"book","plural":"books","pluralLabel":"Books","search":false},{"display":"name","fields":[{"label":"Name","name":"name","required":false,"type":"string"},{"label":"Email","name":"email","required":false,"type":"email"}],"label":"Member","name":"member","plural":"members","pluralLabel":"Members","search":false},{"display":"","fields":[{"label":"Due date","name":"due_date","required":false,"type":"date"},{"label":"Returned","name":"returned","required":false,"type":"boolean"},{"label":"Book","name":"book_id","ref":"books","required":true,"type":"ref"},{"label":"Member","name":"member_id","ref":"members","required":true,"type":"ref"}],"label":"Loan","name":"loan","plural":"loans","pluralLabel":"Loans","search":false}];
const PAGE_SIZE = 20;

const state = { entity: SCHEMA[0], offset: 0, editing: null, query: "" };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (typeof v === "boolean") node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function api(method, path, body) {
  const opts = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = { error: "unreadable answer (" + res.status + ")" }; }
  }
  return { ok: res.ok, status: res.status, data };
}

function pad(n) { return String(n).padStart(2, "0"); }

// toLocalInput turns an RFC 3339 time into a datetime-local value.
function toLocalInput(s) {
  const d = new Date(s);
  if (isNaN(d)) return "";
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

function show(value, field) {
  if (value === null || value === undefined) return "";
  if (field && field.type === "boolean") return value ? "yes" : "no";
  if (field && field.type === "timestamp") { const d = new Date(value); return isNaN(d) ? String(value) : d.toLocaleString(); }
  return String(value);
}

function renderNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...SCHEMA.map((e) => el("button", {
    type: "button", text: e.pluralLabel,
    "aria-current": e === state.entity ? "page" : "false",
    onclick: () => { state.entity = e; state.offset = 0; state.editing = null; state.query = ""; refresh(); },
  })));
}

async function renderList() {
  const e = state.entity;
  const box = document.getElementById("list");
  const q = e.search && state.query ? "&q=" + encodeURIComponent(state.query) : "";
  const res = await api("GET", "/api/" + e.plural + "?limit=" + PAGE_SIZE + "&offset=" + state.offset + q);
  if (!res.ok) {
    box.replaceChildren(el("h2", { text: e.pluralLabel }), el("p", { class: "error", text: (res.data && res.data.error) || "could not load" }));
    return;
  }
  const head = el("tr", {}, el("th", { text: "ID" }), ...e.fields.map((f) => el("th", { text: f.label })), el("th", { text: "" }));
  const rows = res.data.items.map((item) => el("tr", {},
    el("td", { text: show(item.id) }),
    ...e.fields.map((f) => el("td", { text: show(item[f.name], f) })),
    el("td", {},
      el("button", { type: "button", text: "Edit", onclick: () => { state.editing = item; renderEditor(); } }),
      " ",
      el("button", { type: "button", text: "Delete", onclick: () => remove(item) })),
  ));
  const total = res.data.total;
  const pager = el("div", { class: "pager" },
    el("button", { type: "button", text: "Previous", disabled: state.offset === 0,
      onclick: () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); renderList(); } }),
    el("span", { class: "muted", text: total === 0 ? "none yet" : (state.offset + 1) + "–" + (state.offset + res.data.items.length) + " of " + total }),
    el("button", { type: "button", text: "Next", disabled: state.offset + PAGE_SIZE >= total,
      onclick: () => { state.offset += PAGE_SIZE; renderList(); } }));
  const search = e.search ? el("input", { type: "search", placeholder: "Search", "aria-label": "Search " + e.pluralLabel.toLowerCase(), value: state.query,
    onchange: (ev) => { state.query = ev.target.value; state.offset = 0; renderList(); } }) : "";
  box.replaceChildren(el("h2", { text: e.pluralLabel }), search, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)), pager);
}

async function remove(item) {
  const e = state.entity;
  if (!confirm("Delete " + e.label.toLowerCase() + " " + item.id + "?")) return;
  const res = await api("DELETE", "/api/" + e.plural + "/" + item.id);
  if (!res.ok) { alert((res.data && res.data.error) || "could not delete"); return; }
  if (state.editing && state.editing.id === item.id) state.editing = null;
  refresh();
}

async function refOptions(field, select, current) {
  const res = await api("GET", "/api/" + field.ref + "?limit=500");
  const target = SCHEMA.find((x) => x.plural === field.ref);
  select.append(el("option", { value: "", text: field.required ? "choose…" : "none" }));
  if (!res.ok) return;
  for (const item of res.data.items) {
    const name = target && target.display ? item[target.display] : "";
    const opt = el("option", { value: String(item.id), text: "#" + item.id + (name ? " " + name : "") });
    if (current === item.id) opt.selected = true;
    select.append(opt);
  }
}

function input(field, value) {
  switch (field.type) {
    case "text": return el("textarea", { name: field.name, required: field.required }, value ?? "");
    case "boolean": return el("input", { type: "checkbox", name: field.name, checked: value === true });
    case "integer": return el("input", { type: "number", step: "1", name: field.name, required: field.required, value: value ?? "" });
    case "decimal": return el("input", { type: "text", inputmode: "decimal", name: field.name, required: field.required, value: value ?? "" });
    case "timestamp": return el("input", { type: "datetime-local", name: field.name, required: field.required, value: value ? toLocalInput(value) : "" });
    case "date": return el("input", { type: "date", name: field.name, required: field.required, value: value ?? "" });
    case "email": return el("input", { type: "email", name: field.name, required: field.required, value: value ?? "" });
    case "url": return el("input", { type: "url", name: field.name, required: field.required, value: value ?? "" });
    case "ref": { const s = el("select", { name: field.name, required: field.required }); refOptions(field, s, value); return s; }
    default: return el("input", { type: "text", name: field.name, required: field.required, value: value ?? "" });
  }
}

// readValue turns an input's value into the JSON value the API expects.
function readValue(field, node) {
  if (field.type === "boolean") return node.checked;
  const v = node.value.trim();
  if (v === "") return null;
  switch (field.type) {
    case "integer": case "ref": return /^-?\d+$/.test(v) ? Number(v) : v;
    case "timestamp": { const d = new Date(v); return isNaN(d) ? v : d.toISOString(); }
    default: return node.value;
  }
}

function renderEditor() {
  const e = state.entity;
  const item = state.editing;
  const box = document.getElementById("editor");
  const errors = {};
  const inputs = {};
  const form = el("form", { novalidate: "" });
  for (const f of e.fields) {
    const id = "f-" + f.name;
    const value = item ? item[f.name] : (f.default ?? null);
    inputs[f.name] = input(f, value);
    inputs[f.name].id = id;
    errors[f.name] = el("div", { class: "error", id: id + "-error" });
    form.append(el("label", { for: id, text: f.label + (f.required ? " *" : "") }), inputs[f.name], errors[f.name]);
  }
  const status = el("p", { class: "error", role: "alert" });
  form.append(status, el("div", { class: "actions" },
    el("button", { type: "submit", text: item ? "Save" : "Create" }),
    item ? el("button", { type: "button", text: "Cancel", onclick: () => { state.editing = null; renderEditor(); } }) : ""));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const f of e.fields) body[f.name] = readValue(f, inputs[f.name]);
    const res = item ? await api("PUT", "/api/" + e.plural + "/" + item.id, body) : await api("POST", "/api/" + e.plural, body);
    for (const f of e.fields) errors[f.name].textContent = "";
    if (!res.ok) {
      status.textContent = (res.data && res.data.error) || "could not save";
      for (const [name, msg] of Object.entries((res.data && res.data.fields) || {})) {
        if (errors[name]) errors[name].textContent = msg;
      }
      return;
    }
    state.editing = null;
    refresh();
  });
  box.replaceChildren(el("h2", { text: (item ? "Edit " + e.label.toLowerCase() + " " + item.id : "New " + e.label.toLowerCase()) }), form);
}

function refresh() {
  renderNav();
  renderList();
  renderEditor();
}

refresh();
