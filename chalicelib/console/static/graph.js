// The state machine graph drawn from its ASL definition as SVG: states follow their Next chain down a
// column, Catch and Choice targets open the next column to the right, a Parallel state holds its branches
// side by side and a Map holds its item processor, both as boxes around their own layout.

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 196;
const NODE_H = 40;
const GAP_Y = 28;
const GAP_X = 44;
const PAD = 14;
const TITLE = 30;

export const LEGEND = {
  not_started: "not started",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  caught: "caught",
  retried: "retried",
  aborted: "aborted",
};

function targets(state) {
  const primary = state.Next ? [state.Next] : [];
  const side = [];
  if (state.Type === "Choice") {
    const choices = (state.Choices || []).map((c) => c.Next);
    if (state.Default) choices.push(state.Default);
    primary.push(...choices.slice(0, 1));
    side.push(...choices.slice(1));
  }
  for (const c of state.Catch || []) side.push(c.Next);
  return { primary, side };
}

// Lay out one States object: returns {w, h, nodes: [{name, state, x, y, w, h, inner}], edges}.
function layoutBlock(states, startAt) {
  const column = new Map();
  const order = [];
  const pending = [[startAt, 0, null]];
  const parentOf = new Map();
  while (pending.length) {
    let [name, col, from] = pending.shift();
    while (name && states[name] && !column.has(name)) {
      column.set(name, col);
      parentOf.set(name, from);
      order.push(name);
      const { primary, side } = targets(states[name]);
      for (const t of side) pending.push([t, col + 1, name]);
      from = name;
      name = primary[0];
    }
  }
  for (const name of Object.keys(states)) {
    if (!column.has(name)) {
      column.set(name, 0);
      order.push(name);
    }
  }
  const nodes = new Map();
  for (const name of order) {
    const state = states[name];
    let w = NODE_W;
    let h = NODE_H;
    let inner = null;
    if (state.Type === "Map") {
      const proc = state.ItemProcessor || state.Iterator || { States: {} };
      const block = layoutBlock(proc.States || {}, proc.StartAt);
      inner = [block];
      w = Math.max(NODE_W, block.w + 2 * PAD);
      h = block.h + TITLE + PAD;
    } else if (state.Type === "Parallel") {
      const blocks = (state.Branches || []).map((b) => layoutBlock(b.States || {}, b.StartAt));
      inner = blocks;
      w = Math.max(NODE_W, blocks.reduce((s, b) => s + b.w, 0) + GAP_X * (blocks.length - 1) + 2 * PAD);
      h = Math.max(...blocks.map((b) => b.h), NODE_H) + TITLE + PAD;
    }
    nodes.set(name, { name, state, w, h, inner, col: column.get(name) });
  }
  const colCount = Math.max(...[...column.values()], 0) + 1;
  const colW = Array.from({ length: colCount }, (_, c) => Math.max(NODE_W, ...[...nodes.values()].filter((n) => n.col === c).map((n) => n.w)));
  const colX = colW.map((_, c) => colW.slice(0, c).reduce((s, w) => s + w + GAP_X, 0));
  const bottom = new Array(colCount).fill(0);
  for (const name of order) {
    const node = nodes.get(name);
    const source = parentOf.get(name);
    const aligned = source && nodes.get(source)?.y !== undefined && nodes.get(source).col !== node.col ? nodes.get(source).y : 0;
    node.y = Math.max(bottom[node.col] ? bottom[node.col] + GAP_Y : 0, aligned);
    node.x = colX[node.col] + (colW[node.col] - node.w) / 2;
    bottom[node.col] = node.y + node.h;
  }
  const edges = [];
  for (const node of nodes.values()) {
    const { primary, side } = targets(node.state);
    for (const t of primary) if (nodes.has(t)) edges.push({ from: node.name, to: t, kind: "next" });
    for (const t of side) if (nodes.has(t)) edges.push({ from: node.name, to: t, kind: node.state.Type === "Choice" ? "next" : "catch" });
  }
  const w = colX[colCount - 1] + colW[colCount - 1];
  const h = Math.max(...bottom);
  return { w, h, nodes: [...nodes.values()], edges, start: startAt };
}

function el(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  for (const c of children) if (c) node.append(c);
  return node;
}

function label(node, info) {
  if (info && info.total !== null && info.total !== undefined && info.succeeded !== null) {
    const parts = [`${info.succeeded}✓`];
    if (info.failed) parts.push(`${info.failed}✗`);
    parts.push(`of ${info.total}`);
    return parts.join(" ");
  }
  if (info && info.retries) return `${info.retries} retr${info.retries === 1 ? "y" : "ies"}`;
  return node.state.Type;
}

function trim(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function drawBlock(group, block, ox, oy, statuses, onSelect) {
  const pos = new Map(block.nodes.map((n) => [n.name, { x: ox + n.x, y: oy + n.y, w: n.w, h: n.h }]));
  for (const edge of block.edges) {
    const a = pos.get(edge.from);
    const b = pos.get(edge.to);
    let d;
    if (Math.abs(a.x + a.w / 2 - (b.x + b.w / 2)) < 1 && b.y > a.y) {
      d = `M${a.x + a.w / 2},${a.y + a.h} L${b.x + b.w / 2},${b.y - 2}`;
    } else if (b.x > a.x) {
      const sy = a.y + Math.min(a.h / 2, NODE_H / 2);
      d = `M${a.x + a.w},${sy} H${b.x + b.w / 2} V${b.y - 2}`;
    } else {
      const sy = a.y + a.h;
      d = `M${a.x + a.w / 2},${sy} V${sy + GAP_Y / 2} H${b.x + b.w / 2} V${b.y - 2}`;
    }
    group.append(el("path", { d, class: `edge edge-${edge.kind}`, "marker-end": "url(#arrow)" }));
  }
  for (const node of block.nodes) {
    const p = pos.get(node.name);
    const info = statuses[node.name] || { status: "not_started" };
    const g = el("g", {
      class: `state st-${info.status} type-${node.state.Type.toLowerCase()}`,
      "data-state": node.name,
      "data-status": info.status,
      tabindex: "0",
      role: "button",
      "aria-label": `${node.name}: ${info.status.replace(/_/g, " ")}`,
    });
    const title = el("title", {});
    title.textContent = `${node.name} — ${info.status.replace(/_/g, " ")}`;
    g.append(title);
    const container = node.inner !== null;
    g.append(el("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: container ? 10 : 8, class: container ? "box container" : "box" }));
    const name = el("text", { x: p.x + (container ? 12 : p.w / 2), y: p.y + (container ? 19 : 17), class: container ? "name left" : "name" });
    name.textContent = trim(node.name, container ? 40 : 26);
    g.append(name);
    const sub = el("text", { x: container ? p.x + p.w - 12 : p.x + p.w / 2, y: p.y + (container ? 19 : 32), class: container ? "sub right" : "sub" });
    sub.textContent = label(node, info);
    g.append(sub);
    g.addEventListener("click", (event) => {
      event.stopPropagation();
      onSelect(node.name, node.state);
    });
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") onSelect(node.name, node.state);
    });
    group.append(g);
    if (node.state.Type === "Map") {
      drawBlock(group, node.inner[0], p.x + PAD, p.y + TITLE, statuses, onSelect);
    } else if (node.state.Type === "Parallel") {
      let x = p.x + PAD;
      for (const block of node.inner) {
        drawBlock(group, block, x, p.y + TITLE, statuses, onSelect);
        x += block.w + GAP_X;
      }
    }
  }
}

export function drawGraph(definition, statuses, onSelect) {
  const block = layoutBlock(definition.States || {}, definition.StartAt);
  const margin = 12;
  const width = block.w + 2 * margin;
  const height = block.h + 2 * margin;
  const svg = el("svg", {
    xmlns: SVG,
    viewBox: `0 0 ${width} ${height}`,
    width,
    class: "graph",
    id: "graph",
    role: "img",
    "aria-label": "state machine graph",
  });
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  const defs = el("defs", {});
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  defs.append(marker);
  svg.append(defs);
  const group = el("g", { transform: `translate(${margin},${margin})` });
  svg.append(group);
  drawBlock(group, block, 0, 0, statuses, onSelect);
  return svg;
}
