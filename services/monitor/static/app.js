// Corridor operations dashboard. Vanilla JS, no dependencies: polls /api/overview, listens to
// /api/stream (server-sent events) and draws its charts as inline SVG.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const params = new URLSearchParams(location.search);
  const pinned = params.getAll("group");
  const state = {
    refreshMs: 2000,
    paused: false,
    streamRows: 0,
    match: params.get("match") || "",
    timer: null,
    inFlight: false,
    expanded: new Set(),
    showOtherTopics: false,
    last: null,
  };
  const MAX_STREAM_ROWS = 150;

  // -- small helpers --------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "style") node.setAttribute("style", value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const intFmt = new Intl.NumberFormat("en-US");
  const fmtInt = (n) => (n === null || n === undefined ? "–" : intFmt.format(n));
  function fmtRate(x) {
    if (x === null || x === undefined) return "–";
    if (x === 0) return "0";
    if (x < 10) return x.toFixed(2);
    if (x < 100) return x.toFixed(1);
    return intFmt.format(Math.round(x));
  }
  function fmtMs(x) {
    if (x === null || x === undefined) return "–";
    if (x === 0) return "0";
    if (x < 1) return "<1 ms";
    if (x < 1000) return `${Math.round(x)} ms`;
    if (x < 60000) return `${(x / 1000).toFixed(x < 10000 ? 2 : 1)} s`;
    return `${(x / 60000).toFixed(1)} min`;
  }
  const pad = (n) => String(n).padStart(2, "0");
  function fmtClock(ms) {
    if (!ms) return "–";
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function fmtEventTime(iso) {
    if (!iso) return "";
    return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  }
  const senderOf = (source) => (source || "").replace(/^\/corridor\/partners\//, "");

  function setKpi(id, value, text, alert) {
    const node = document.getElementById(id);
    node.dataset.value = value === null || value === undefined ? "" : String(value);
    node.dataset.alert = alert ? "yes" : "no";
    node.querySelector(".kpi-value").textContent = text;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const exp = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (value <= step * exp) return step * exp;
    }
    return 10 * exp;
  }

  // -- charts -----------------------------------------------------------------------------------------

  // A sparkline of [t, value] points: filled area and line, with the peak in its tooltip.
  function sparkline(points, { width = 220, height = 34, color = "#2f6fdf", fill = "#e3ecfc", unit = "" } = {}) {
    const box = svg("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    if (!points || points.length < 2) {
      box.append(svg("line", { x1: 0, y1: height - 1, x2: width, y2: height - 1, stroke: "#e4e8ee" }));
      return box;
    }
    const t0 = points[0][0];
    const t1 = points[points.length - 1][0];
    const peak = Math.max(...points.map((p) => p[1] || 0));
    const top = peak > 0 ? peak * 1.1 : 1;
    const x = (t) => (t1 === t0 ? width : ((t - t0) / (t1 - t0)) * (width - 2) + 1);
    const y = (v) => height - 2 - ((v || 0) / top) * (height - 5);
    const line = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    const area = `${line}L${x(t1).toFixed(1)},${height - 1}L${x(t0).toFixed(1)},${height - 1}Z`;
    box.append(
      svg("title", {}, `peak ${fmtRate(peak)}${unit}`),
      svg("path", { d: area, fill, stroke: "none" }),
      svg("path", { d: line, fill: "none", stroke: color, "stroke-width": 1.6, "stroke-linejoin": "round" }),
    );
    const last = points[points.length - 1];
    box.append(svg("circle", { cx: x(last[0]), cy: y(last[1]), r: 2.4, fill: color }));
    return box;
  }

  // A line chart of several series sharing the time axis; null values leave gaps.
  function lineChart(history, series, { width = 420, height = 170 } = {}) {
    const m = { l: 46, r: 10, t: 10, b: 20 };
    const w = width - m.l - m.r;
    const h = height - m.t - m.b;
    const box = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    const values = history.flatMap((row) => series.map((s) => row[s.index])).filter((v) => v !== null && v !== undefined);
    const top = niceMax(values.length ? Math.max(...values) : 1);
    const t0 = history.length ? history[0][0] : 0;
    const t1 = history.length ? history[history.length - 1][0] : 1;
    const x = (t) => m.l + (t1 === t0 ? w : ((t - t0) / (t1 - t0)) * w);
    const y = (v) => m.t + h - (v / top) * h;
    if (!values.length) {
      box.append(
        svg("line", { class: "axis", x1: m.l, x2: m.l + w, y1: m.t + h, y2: m.t + h }),
        svg("text", { x: m.l + w / 2, y: m.t + h / 2, "text-anchor": "middle" }, "no commits in the last minute"),
      );
      return box;
    }
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      box.append(
        svg("line", { class: i ? "grid-line" : "axis", x1: m.l, x2: m.l + w, y1: y(v), y2: y(v) }),
        svg("text", { x: m.l - 6, y: y(v) + 3, "text-anchor": "end" }, fmtMs(v)),
      );
    }
    if (history.length > 1) {
      const minutes = Math.round((t1 - t0) / 60000);
      box.append(
        svg("text", { x: m.l, y: height - 5 }, minutes ? `−${minutes} min` : fmtClock(t0)),
        svg("text", { x: m.l + w, y: height - 5, "text-anchor": "end" }, "now"),
      );
    }
    for (const s of series) {
      let d = "";
      let pen = false;
      for (const row of history) {
        const v = row[s.index];
        if (v === null || v === undefined) {
          pen = false;
          continue;
        }
        d += `${pen ? "L" : "M"}${x(row[0]).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      }
      if (d) box.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.8, "stroke-linejoin": "round" }));
    }
    return box;
  }

  function bars(container, counts, { kind, colorByState = true } = {}) {
    container.replaceChildren();
    const entries = Object.entries(counts || {});
    if (!entries.length) {
      container.append(el("div", { class: "empty", text: "none" }));
      return;
    }
    const max = Math.max(...entries.map(([, n]) => n));
    for (const [label, count] of entries) {
      const fill = el("div", {
        class: `bar-fill${colorByState ? ` s-${label}` : ""}`,
        style: `width:${((count / max) * 100).toFixed(1)}%`,
      });
      container.append(
        el(
          "div",
          { class: "bar-row", "data-state-kind": kind, "data-state": label, "data-count": count },
          el("span", { class: "bar-label", title: label, text: label.replaceAll("_", " ").toLowerCase() }),
          el("div", { class: "bar-track" }, fill),
          el("span", { class: "bar-count", text: fmtInt(count) }),
        ),
      );
    }
  }

  // -- sections ---------------------------------------------------------------------------------------

  function renderStatus(o) {
    const errors = o.errors || {};
    const pill = (id, ok) => (document.getElementById(id).dataset.ok = ok ? "yes" : "no");
    pill("pill-kafka", !errors.kafka);
    pill("pill-ledger", !errors.ledger);
    pill("pill-stream", !errors.stream && state.streamOpen);
    document.getElementById("updated").textContent =
      `updated ${fmtClock(o.sampled_at_ms)} · every ${o.refresh_s} s` + (o.tick_ms ? ` · sample ${Math.round(o.tick_ms)} ms` : "");
    const box = document.getElementById("errors");
    box.replaceChildren(...Object.entries(errors).map(([part, message]) => el("div", {}, el("b", { text: `${part}: ` }), message)));
    box.hidden = !Object.keys(errors).length;
  }

  function renderKpis(o) {
    const k = o.kpis;
    setKpi("kpi-trade-events", k.trade_events, fmtInt(k.trade_events));
    setKpi("kpi-trade-rate", k.trade_rate, fmtRate(k.trade_rate));
    document.querySelector("#kpi-trade-rate .kpi-note").textContent = `records/s now · ${fmtRate(k.trade_rate_1m)} avg 1 min`;
    setKpi("kpi-ledger-lag", k.ledger_lag, k.ledger_lag === null ? "no group" : fmtInt(k.ledger_lag), k.ledger_lag > 1000);
    document.querySelector("#kpi-ledger-lag .kpi-note").textContent = `group ${o.groups.ledger_group}`;
    setKpi("kpi-dlq-depth", k.dlq_depth, fmtInt(k.dlq_depth), k.dlq_depth > 0);
    setKpi("kpi-latency-p95", k.latency_p95_ms, fmtMs(k.latency_p95_ms));
    setKpi("kpi-trades", k.trades, fmtInt(k.trades));
  }

  const KIND_COLORS = {
    trade: ["#0f7b5f", "#d8f0e8"],
    retry: ["#d98e04", "#fdf0d5"],
    dlq: ["#c8102e", "#fbe0e4"],
    partner: ["#2f6fdf", "#e3ecfc"],
    other: ["#98a2b3", "#eef0f3"],
  };

  function renderTopics(all) {
    const body = document.querySelector("#topics tbody");
    // partner and other topics only while they receive records (there is one per partner)
    const busy = (t) => !["partner", "other"].includes(t.kind) || t.history.some((p) => p[1] > 0);
    const topics = state.showOtherTopics ? all : all.filter(busy);
    const hidden = all.length - topics.length;
    const rows = topics.map((t) => {
        const [color, fill] = KIND_COLORS[t.kind] || KIND_COLORS.other;
        return el(
          "tr",
          {
            class: `kind-${t.kind}`,
            "data-topic": t.name,
            "data-end-offset": t.end_offset,
            "data-records": t.records,
            "data-rate": t.rate,
          },
          el("td", {}, el("span", { class: "topic-name", text: t.name }), el("span", { class: `badge ${t.kind}`, text: t.kind })),
          el("td", { class: "num", text: t.partitions.length }),
          el("td", { class: "num end-offset", text: fmtInt(t.end_offset) }),
          el("td", { class: "num records", text: fmtInt(t.records) }),
          el("td", { class: "num rate-now", text: fmtRate(t.rate) }),
          el("td", { class: "num", text: fmtRate(t.rate_1m) }),
          el("td", {}, sparkline(t.history, { color, fill, unit: " rec/s" })),
        );
      });
    if (hidden || state.showOtherTopics) {
      const toggle = el("button", {
        type: "button",
        class: "btn",
        onclick: () => {
          state.showOtherTopics = !state.showOtherTopics;
          if (state.last) renderTopics(state.last.topics);
        },
        text: state.showOtherTopics ? "hide idle topics" : `show ${hidden} idle partner and other topic${hidden === 1 ? "" : "s"}`,
      });
      rows.push(el("tr", {}, el("td", { colspan: 7, class: "more" }, toggle)));
    }
    body.replaceChildren(...rows);
  }

  function lagColor(lag, max) {
    if (lag === null || lag === undefined) return null;
    if (lag === 0) return "#e7f5ee";
    const f = Math.min(1, Math.log10(lag + 1) / Math.log10(Math.max(max, 10) + 1));
    // from amber to red as the lag grows
    const r = Math.round(253 - f * (253 - 200));
    const g = Math.round(200 - f * (200 - 16));
    const b = Math.round(90 - f * (90 - 46));
    return `rgb(${r},${g},${b})`;
  }

  function renderGroups(groups) {
    document.getElementById("groups-count").textContent =
      `${groups.count} group${groups.count === 1 ? "" : "s"}` + (state.match ? ` matching “${state.match}”` : "") + " · lag = end offset − committed";
    const body = document.querySelector("#groups tbody");
    const rows = groups.groups.map((g) => {
      const cells = [];
      const max = Math.max(1, ...g.topics.flatMap((t) => t.partitions.map((p) => p.lag || 0)));
      g.topics.forEach((t, i) => {
        if (i) cells.push(el("span", { class: "lag-topic-gap" }));
        for (const p of t.partitions) {
          const color = lagColor(p.lag, max);
          cells.push(
            el("span", {
              class: `lag-cell${p.lag === null ? " none" : ""}`,
              style: color ? `background:${color};border-color:${color}` : undefined,
              title: `${t.topic}/${p.partition}: lag ${p.lag === null ? "no commit" : fmtInt(p.lag)} (committed ${fmtInt(p.committed)}, end ${fmtInt(p.end)})`,
              "data-topic": t.topic,
              "data-partition": p.partition,
              "data-lag": p.lag === null ? "" : p.lag,
            }),
          );
        }
      });
      const open = state.expanded.has(g.group_id);
      const row = el(
        "tr",
        {
          class: pinned.includes(g.group_id) ? "pinned" : undefined,
          "data-group": g.group_id,
          "data-lag": g.lag,
          "data-state": g.state,
          "data-members": g.members,
          "aria-expanded": String(open),
          title: "click for the lag of each partition",
          onclick: () => {
            if (state.expanded.has(g.group_id)) state.expanded.delete(g.group_id);
            else state.expanded.add(g.group_id);
            if (state.last) renderGroups(state.last.groups);
          },
        },
        el("td", {}, el("span", { class: "group-name", text: g.group_id })),
        el("td", {}, el("span", { class: `state ${g.state}`, text: g.state }), el("span", { class: "members", text: `· ${g.members}` })),
        el("td", { class: `num lag-total${g.lag > 1000 ? " hot" : ""}`, text: fmtInt(g.lag) }),
        el("td", {}, el("div", { class: "lag-strip" }, cells.length ? cells : el("span", { class: "empty", text: "no commits" }))),
        el("td", {}, sparkline(g.history, { width: 120, color: "#d98e04", fill: "#fdf0d5", unit: " behind" })),
      );
      if (!open) return [row];
      return [row, el("tr", { class: "lag-detail", "data-detail-of": g.group_id }, el("td", { colspan: 5 }, lagTable(g)))];
    }).flat();
    if (groups.count > groups.groups.length) {
      rows.push(el("tr", {}, el("td", { colspan: 5, class: "more", text: `${groups.count - groups.groups.length} more — filter by name to find one` })));
    }
    body.replaceChildren(...rows);
  }

  function lagTable(g) {
    const table = el("table", { class: "lag-table" });
    const width = Math.max(0, ...g.topics.map((t) => t.partitions.length));
    const partitions = [...new Set(g.topics.flatMap((t) => t.partitions.map((p) => p.partition)))].sort((a, b) => a - b);
    table.append(el("tr", {}, el("th", { text: "topic · partition" }), ...partitions.map((p) => el("th", { text: p })), el("th", { text: "total" })));
    for (const t of g.topics) {
      const byPartition = new Map(t.partitions.map((p) => [p.partition, p]));
      table.append(
        el(
          "tr",
          { "data-topic": t.topic },
          el("td", { text: t.topic }),
          ...partitions.map((n) => {
            const p = byPartition.get(n);
            const lag = p ? p.lag : undefined;
            return el("td", {
              class: lag > 0 ? "hot" : undefined,
              "data-partition": n,
              "data-lag": lag ?? "",
              title: p ? `committed ${fmtInt(p.committed)} · end ${fmtInt(p.end)}` : "",
              text: lag === undefined ? "" : lag === null ? "—" : fmtInt(lag),
            });
          }),
          el("td", { text: fmtInt(t.lag) }),
        ),
      );
    }
    return width ? table : el("span", { class: "empty", text: "no committed offsets" });
  }

  function renderLatency(l) {
    for (const q of ["p50", "p95", "p99"]) {
      const node = document.getElementById(`lat-${q}`);
      const value = l[`${q}_ms`];
      node.dataset.value = value === null ? "" : String(value);
      node.textContent = fmtMs(value);
    }
    document.getElementById("latency-window").textContent = `${fmtInt(l.count)} commits · last ${Math.round(l.window_s / 60)} min`;
    document.getElementById("latency-chart").replaceChildren(
      lineChart(l.history, [
        { index: 1, color: "#0f7b5f" },
        { index: 2, color: "#d98e04" },
        { index: 3, color: "#c8102e" },
      ]),
    );
    const hist = l.histogram || [];
    const peak = Math.max(1, ...hist.map((b) => b.count));
    const bins = hist.map((b) =>
      el("div", {
        class: "bin",
        "data-count": b.count,
        title: `${b.le_ms === null ? "more" : `≤ ${fmtMs(b.le_ms)}`}: ${fmtInt(b.count)}`,
        style: `height:${Math.max(2, (b.count / peak) * 100).toFixed(0)}%`,
      }),
    );
    const labels = hist.map((b, i) => el("span", { text: i % 3 === 0 ? (b.le_ms === null ? "+" : fmtMs(b.le_ms).replace(" ", "")) : "" }));
    document.getElementById("latency-hist").replaceChildren(...bins);
    let labelRow = document.getElementById("latency-hist-labels");
    if (!labelRow) {
      labelRow = el("div", { id: "latency-hist-labels", class: "hist-labels" });
      document.getElementById("latency-hist").after(labelRow);
    }
    labelRow.replaceChildren(...labels);
    document.getElementById("latency-source").textContent =
      `Chart: p50/p95/p99 of the last minute's commits at each sample. Source: ${l.source_text}` +
      (l.ledger_schema ? ` (schema ${l.ledger_schema})` : "") + ".";
  }

  function renderTrades(t) {
    const d = t.decisions || {};
    document.getElementById("trades-schema").textContent =
      `ledger schema ${t.ledger_schema} · ${fmtInt(t.events_stored)} events accepted · ` +
      `${fmtInt(d.pending || 0)} pending · ${fmtInt(d.rejected || 0)} rejected · ` +
      `${fmtInt(d.unpublished || 0)} not yet on the accepted stream`;
    const note = document.getElementById("trades-note");
    note.hidden = t.available;
    note.textContent = t.available ? "" : t.error || "the ledger's tables are not readable";
    bars(document.getElementById("states-trades"), t.trades, { kind: "trades" });
    bars(document.getElementById("states-shipments"), t.shipments, { kind: "shipments" });
    bars(document.getElementById("states-certificates"), t.certificates, { kind: "certificates" });
  }

  function renderDlq(d) {
    const depth = document.getElementById("dlq-depth");
    depth.dataset.value = String(d.depth);
    depth.textContent = d.exists ? fmtInt(d.depth) : "–";
    document.getElementById("dlq-rate").textContent = fmtRate(d.rate_1m);
    const max = Math.max(1, ...d.top_reasons.map((r) => r.count));
    const reasons = document.getElementById("dlq-reasons");
    reasons.replaceChildren(
      ...d.top_reasons.slice(0, 6).map((r) =>
        el(
          "li",
          { class: "reason", "data-reason": r.reason, "data-error-class": r.error_class, "data-count": r.count, title: r.example },
          el("div", { class: "reason-head" }, el("span", { class: "reason-class", text: r.error_class }), el("span", { class: "reason-count", text: fmtInt(r.count) })),
          el("div", { class: "reason-text", text: r.reason || "(no reason given)" }),
          el("div", { class: "bar-track" }, el("div", { class: "bar-fill", style: `width:${((r.count / max) * 100).toFixed(1)}%` })),
        ),
      ),
    );
    if (!d.top_reasons.length) reasons.append(el("li", { class: "empty", text: d.exists ? "no dead letters read" : "no dead-letter topic yet" }));
    const recent = document.getElementById("dlq-recent");
    recent.replaceChildren(
      ...d.recent.slice(0, 4).map((item) =>
        el(
          "li",
          { onclick: () => openRecord(item), title: "show the record" },
          el("div", {}, el("b", { text: item.type || "record" }), " ", el("span", { class: "reason-class", text: item.error_class || "" })),
          el("div", { class: "where", text: `${item.original_topic || "?"}/${item.original_partition ?? "?"}@${item.original_offset ?? "?"} · ${fmtClock(item.observed_ms)}` }),
        ),
      ),
    );
  }

  // -- live stream ------------------------------------------------------------------------------------

  function streamRow(item, fresh) {
    const dead = item.kind === "dlq";
    return el(
      "tr",
      {
        class: fresh ? "fresh" : undefined,
        "data-event-id": item.event_id || "",
        "data-topic": item.topic,
        "data-partition": item.partition,
        "data-offset": item.offset,
        onclick: () => openRecord(item),
      },
      el("td", { class: "seen", text: fmtClock(item.observed_ms) }),
      el("td", {}, el("span", { class: "etype", text: item.type || "(no ce_type)" }), dead ? el("span", { class: "badge dlq", text: "dead letter" }) : null),
      el("td", { class: "where", text: `${item.topic} · ${item.partition} @ ${item.offset}` }),
      el("td", { class: "subject", text: item.subject || "" }),
      el("td", { class: "sender", text: senderOf(item.source) }),
      el("td", { class: "seen", text: fmtEventTime(item.time) }),
      el("td", { class: "num seen", text: fmtInt(item.size) }),
    );
  }

  function addToStream(item, fresh) {
    if (state.paused) return;
    const body = document.querySelector("#stream tbody");
    body.prepend(streamRow(item, fresh));
    while (body.rows.length > MAX_STREAM_ROWS) body.deleteRow(body.rows.length - 1);
    state.streamRows += 1;
    document.body.dataset.streamRows = String(state.streamRows);
  }

  function connectStream() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/stream");
    source.onopen = () => {
      state.streamOpen = true;
      document.getElementById("pill-stream").dataset.ok = "yes";
    };
    source.onerror = () => {
      state.streamOpen = false;
      document.getElementById("pill-stream").dataset.ok = "no";
    };
    const onItem = (message) => {
      try {
        const item = JSON.parse(message.data);
        addToStream(item, item.live !== false);
      } catch (err) {
        console.error("bad stream message", err);
      }
    };
    source.addEventListener("event", onItem);
    source.addEventListener("dlq", onItem);
  }

  // -- record drawer ------------------------------------------------------------------------------------

  function highlightJson(value) {
    const text = JSON.stringify(value, null, 2);
    const out = document.createDocumentFragment();
    const token = /("(?:\\u[0-9a-fA-F]{4}|\\[^u]|[^\\"])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
    let last = 0;
    for (const match of text.matchAll(token)) {
      if (match.index > last) out.append(text.slice(last, match.index));
      let cls = "n";
      if (match[1]) cls = match[2] ? "k" : "s";
      else if (match[3]) cls = "b";
      out.append(el("span", { class: cls, text: match[1] || match[0] }));
      if (match[2]) out.append(match[2]);
      last = match.index + match[0].length;
    }
    out.append(text.slice(last));
    return out;
  }

  function metaGrid(container, pairs) {
    container.replaceChildren(...pairs.flatMap(([k, v]) => [el("div", { class: "k", text: k }), el("div", { class: "v", text: v ?? "" })]));
  }

  async function openRecord(item) {
    const drawer = document.getElementById("drawer");
    const payload = document.getElementById("drawer-payload");
    document.getElementById("drawer-title").textContent = item.type || "Record";
    metaGrid(document.getElementById("drawer-meta"), [
      ["where", `${item.topic} / partition ${item.partition} @ offset ${item.offset}`],
      ["event id", item.event_id],
      ["subject", item.subject],
    ]);
    payload.replaceChildren("loading…");
    document.getElementById("drawer-headers").replaceChildren();
    drawer.hidden = false;
    try {
      const path = `/api/records/${encodeURIComponent(item.topic)}/${item.partition}/${item.offset}`;
      const response = await fetch(path);
      const record = await response.json();
      if (!response.ok) throw new Error(record.detail || response.statusText);
      metaGrid(document.getElementById("drawer-meta"), [
        ["where", `${record.topic} / partition ${record.partition} @ offset ${record.offset}`],
        ["key (trade id)", record.key],
        ["type", record.type || "(not decodable)"],
        ["schema id", record.schema_id ?? ""],
        ["record timestamp", record.timestamp_ms ? new Date(record.timestamp_ms).toISOString() : ""],
        ["size", `${fmtInt(record.size)} bytes`],
      ]);
      payload.replaceChildren(record.error ? `${record.error}\n\nfirst bytes: ${record.value_hex}` : highlightJson(record.payload));
      metaGrid(document.getElementById("drawer-headers"), Object.entries(record.headers || {}));
    } catch (err) {
      payload.replaceChildren(`could not load the record: ${err.message}`);
    }
  }

  function closeDrawer() {
    document.getElementById("drawer").hidden = true;
  }

  // -- polling -------------------------------------------------------------------------------------------

  function overviewUrl() {
    const q = new URLSearchParams();
    for (const g of pinned) q.append("group", g);
    if (state.match) q.set("match", state.match);
    const s = q.toString();
    return `/api/overview${s ? `?${s}` : ""}`;
  }

  async function refresh() {
    if (state.inFlight) return;
    state.inFlight = true;
    try {
      const response = await fetch(overviewUrl(), { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const o = await response.json();
      state.refreshMs = Math.max(500, (o.refresh_s || 2) * 1000);
      state.last = o;
      renderStatus(o);
      renderKpis(o);
      renderTopics(o.topics);
      renderGroups(o.groups);
      renderLatency(o.latency);
      renderTrades(o.trades);
      renderDlq(o.dlq);
      document.body.dataset.ticks = String(o.ticks);
      document.body.dataset.sampledAt = String(o.sampled_at_ms || "");
      document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
    } catch (err) {
      document.getElementById("updated").textContent = `monitor unreachable (${err.message}); retrying`;
      document.getElementById("pill-kafka").dataset.ok = "no";
    } finally {
      state.inFlight = false;
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, state.refreshMs);
  }

  function init() {
    document.getElementById("drawer-close").addEventListener("click", closeDrawer);
    document.getElementById("drawer").addEventListener("click", (e) => {
      if (e.target.id === "drawer") closeDrawer();
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") closeDrawer();
    });
    const pause = document.getElementById("stream-pause");
    pause.addEventListener("click", () => {
      state.paused = !state.paused;
      pause.setAttribute("aria-pressed", String(state.paused));
      pause.textContent = state.paused ? "Resume" : "Pause";
    });
    const filter = document.getElementById("group-filter");
    filter.value = state.match;
    let debounce = null;
    filter.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        state.match = filter.value.trim();
        refresh();
      }, 250);
    });
    connectStream();
    refresh().then(schedule);
  }

  init();
})();
