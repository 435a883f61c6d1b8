"use strict";
// The review page: classify an article through the API, show each sentence with its label, and save
// reviewer decisions to /v1/feedback. Article text is untrusted: it reaches the page only through
// text nodes and textContent, never as markup. Label ids, names and colours, and the kinds of evidence
// span, come from GET /health. Every classification asks for the evidence spans ("explain": true): they
// cost about as much again as the classification itself, a fraction of a second per article.

(() => {
  const STORE_ARTICLE = "sourcing-review:article";
  const STORE_TOKEN = "sourcing-review:token";
  const $ = (id) => document.getElementById(id);

  const state = {
    labels: [],            // [{id, name, colour, description, key}] in the model's order
    byId: new Map(),
    cueKinds: [],          // [{id, description}] in display order; a kind's position picks its underline style
    needsSourcing: [],     // label ids, least sourced first
    article: null,         // {id, text}
    modelVersion: "",
    sentences: [],         // API records plus {shownCues, reviewer, action, saved, el}
    current: -1,
    hidden: new Set(),     // label ids filtered out
    threshold: 0,
    fileArticles: [],
    saving: Promise.resolve(),
  };

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const pct = (p) => `${Math.round(p * 100)}%`;
  const initials = (name) => name.split(/\s+/).map((word) => word[0]).join("").toUpperCase();
  const effective = (s) => s.reviewer || s.label;
  const labelInfo = (id) => state.byId.get(id);

  function setStatus(message, isError = false) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const token = $("token").value.trim();
    if (options.auth && token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method: options.method || "GET", headers, body, cache: "no-store" });
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const detail = payload && typeof payload.detail === "string" ? payload.detail : response.statusText;
      throw new Error(`${response.status} ${detail}`);
    }
    return payload;
  }

  // A stable id for pasted text, so its saved decisions come back when the same text is opened again.
  function textId(text) {
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    for (let i = 0; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 16777619);
      b = Math.imul(b ^ c, 2246822507);
    }
    const hex = (n) => (n >>> 0).toString(16).padStart(8, "0");
    return `pasted-${hex(a)}${hex(b)}`;
  }

  // ------------------------------------------------------------------ labels, legend, filters

  function withLabelStyle(node, info) {
    node.classList.add(`style-${info.key}`);
    node.style.setProperty("--label-colour", info.colour);
    return node;
  }

  function buildLegend() {
    const legend = $("legend");
    legend.replaceChildren(...state.labels.map((info) => {
      const item = withLabelStyle(make("label", "legend-item"), info);
      item.title = info.description;
      const box = make("input");
      box.type = "checkbox";
      box.checked = true;
      box.dataset.label = info.id;
      box.addEventListener("change", () => {
        if (box.checked) state.hidden.delete(info.id);
        else state.hidden.add(info.id);
        refreshAll();
      });
      const swatch = make("span", "badge", initials(info.name));
      swatch.setAttribute("aria-hidden", "true");
      const count = make("span", "count", "0");
      count.dataset.countFor = info.id;
      item.append(box, swatch, make("span", "legend-name", info.name), count);
      return item;
    }));
  }

  function buildLabelButtons() {
    $("label-buttons").replaceChildren(...state.labels.map((info) => {
      const button = withLabelStyle(make("button", "label-button"), info);
      button.type = "button";
      button.dataset.label = info.id;
      button.disabled = true;
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-keyshortcuts", String(info.key));
      const swatch = make("span", "badge", initials(info.name));
      swatch.setAttribute("aria-hidden", "true");
      button.append(make("kbd", "", String(info.key)), swatch, make("span", "", info.name));
      button.addEventListener("click", () => decide(info.id));
      return button;
    }));
  }

  // ------------------------------------------------------------------ the article

  function render() {
    const container = $("article");
    const chars = Array.from(state.article.text); // offsets from the server count code points
    const nodes = [];
    let pos = 0;
    for (const s of state.sentences) {
      if (s.start > pos) nodes.push(document.createTextNode(chars.slice(pos, s.start).join("")));
      s.el = sentenceElement(s);
      nodes.push(s.el);
      pos = Math.max(pos, s.end);
    }
    if (pos < chars.length) nodes.push(document.createTextNode(chars.slice(pos).join("")));
    container.replaceChildren(...nodes);
    if (state.sentences.length) state.sentences[0].el.tabIndex = 0;
    $("article-name").textContent = `(${state.article.id})`;
    $("export-csv").disabled = $("export-jsonl").disabled = !state.sentences.length;
    refreshAll();
  }

  function sentenceElement(s) {
    const node = make("span", "sentence");
    node.dataset.index = String(s.sentence_index);
    node.tabIndex = -1;
    const badge = make("span", "badge");
    badge.setAttribute("aria-hidden", "true");
    const text = make("span", "text");
    text.append(...sentenceText(s));
    node.append(badge, make("span", "sr-only"), text);
    return node;
  }

  // ------------------------------------------------------------------ evidence spans (cues)

  function cueKind(kind) {
    const i = state.cueKinds.findIndex((info) => info.id === kind);
    return i === -1 ? { id: String(kind), description: "", style: 0 } : { ...state.cueKinds[i], style: i + 1 };
  }

  // The cues that can be drawn, in text order: offsets in range (code points, as the server counts them),
  // matching the cue's text, and not overlapping a cue listed before them (the API lists the strongest first).
  function drawableCues(record) {
    const chars = Array.from(record.text);
    const kept = [];
    for (const cue of Array.isArray(record.cues) ? record.cues : []) {
      if (!cue || !Number.isInteger(cue.start) || !Number.isInteger(cue.end)) continue;
      if (cue.start < 0 || cue.end <= cue.start || cue.end > chars.length) continue;
      const text = chars.slice(cue.start, cue.end).join("");
      if (typeof cue.text === "string" && cue.text !== text) continue;
      if (kept.some((k) => cue.start < k.end && k.start < cue.end)) continue;
      kept.push({ start: cue.start, end: cue.end, text, kind: cueKind(cue.kind),
        score: typeof cue.score === "number" ? cue.score : null });
    }
    return kept.sort((a, b) => a.start - b.start);
  }

  function cueTitle(cue, modelLabel) {
    const meaning = cue.kind.description ? `: ${cue.kind.description}.` : "";
    const drop = cue.score === null ? 0 : Math.round(cue.score * 100);
    const effect = drop > 0 ? ` Without it, the model's ${modelLabel.name} probability drops ${drop} points.` : "";
    return `${cue.kind.id} cue${meaning}${effect}`;
  }

  // The sentence as text nodes with each cue wrapped in a <mark>: the same characters in the same order.
  function sentenceText(s) {
    const chars = Array.from(s.text);
    const nodes = [];
    let pos = 0;
    for (const cue of s.shownCues) {
      if (cue.start > pos) nodes.push(document.createTextNode(chars.slice(pos, cue.start).join("")));
      const mark = make("mark", `cue cue-style-${cue.kind.style}`, cue.text);
      mark.dataset.kind = cue.kind.id;
      mark.title = cueTitle(cue, labelInfo(s.label));
      nodes.push(mark);
      pos = cue.end;
    }
    if (pos < chars.length) nodes.push(document.createTextNode(chars.slice(pos).join("")));
    return nodes;
  }

  const cueSummary = (s) => s.shownCues.map((cue) => `\u201c${cue.text}\u201d (${cue.kind.id} cue)`).join(", ");

  function buildCueLegend() {
    const legend = $("cue-legend");
    legend.replaceChildren(make("span", "muted", "Underlined: the words behind each label."),
      ...state.cueKinds.map((info, i) => {
        const item = make("span", `cue cue-style-${i + 1}`, `${info.id} cue`);
        item.title = info.description;
        return item;
      }));
    legend.hidden = !state.cueKinds.length;
  }

  function updateSentence(s) {
    const label = effective(s);
    const info = labelInfo(label);
    const model = labelInfo(s.label);
    const node = s.el;
    node.className = "sentence";
    withLabelStyle(node, info);
    node.classList.toggle("reviewed", Boolean(s.reviewer));
    node.classList.toggle("filtered-out", state.hidden.has(label));
    node.classList.toggle("below-threshold", !s.reviewer && s.confidence < state.threshold);
    node.classList.toggle("current", s.sentence_index === state.current);
    node.dataset.label = label;
    node.dataset.modelLabel = s.label;
    node.dataset.confidence = String(s.confidence);
    node.dataset.reviewed = s.action || "";
    node.dataset.saved = s.saved || "";
    const mark = s.action === "corrected" ? " \u270e" : s.action === "accepted" ? " \u2713" : "";
    node.querySelector(".badge").textContent = initials(info.name) + mark;
    const summary = s.reviewer
      ? `${info.name} (reviewer ${s.action}; model said ${model.name}, ${pct(s.confidence)})`
      : `${info.name}, model confidence ${pct(s.confidence)}`;
    const cues = cueSummary(s);
    node.title = cues ? `${summary}; evidence: ${cues}` : summary;
    node.querySelector(".sr-only").textContent = `${node.title}: `;
  }

  function updateCounts() {
    const counts = new Map(state.labels.map((info) => [info.id, 0]));
    for (const s of state.sentences) counts.set(effective(s), counts.get(effective(s)) + 1);
    for (const node of document.querySelectorAll("[data-count-for]")) {
      node.textContent = String(counts.get(node.dataset.countFor));
    }
  }

  function renderNeeds() {
    const rank = new Map(state.needsSourcing.map((id, i) => [id, i]));
    const items = state.sentences
      .filter((s) => rank.has(effective(s)) && !state.hidden.has(effective(s)))
      .sort((x, y) => rank.get(effective(x)) - rank.get(effective(y))
        || y.probabilities[effective(y)] - x.probabilities[effective(x)]
        || x.sentence_index - y.sentence_index);
    $("needs-list").replaceChildren(...items.map((s) => {
      const info = labelInfo(effective(s));
      const button = withLabelStyle(make("button", "needs-item"), info);
      button.type = "button";
      button.dataset.index = String(s.sentence_index);
      button.classList.toggle("below-threshold", !s.reviewer && s.confidence < state.threshold);
      const badge = make("span", "badge", initials(info.name));
      badge.setAttribute("aria-hidden", "true");
      button.append(badge, make("span", "sr-only", `${info.name}, `),
        make("span", "needs-confidence", pct(s.probabilities[effective(s)])),
        make("span", "needs-text", s.text));
      button.addEventListener("click", () => select(s.sentence_index, "center"));
      const item = make("li");
      item.append(button);
      return item;
    }));
    if (!items.length && state.sentences.length) {
      const names = state.needsSourcing.map((id) => labelInfo(id).name.toLowerCase()).join(" or ");
      $("needs-list").append(make("li", "muted", `No shown sentence is labelled ${names}.`));
    }
    $("needs-count").textContent = `(${items.length})`;
  }

  function renderDetail() {
    const s = state.sentences[state.current];
    const detail = $("detail");
    for (const button of document.querySelectorAll(".label-button")) {
      button.disabled = !s;
      button.setAttribute("aria-pressed", String(Boolean(s && s.reviewer === button.dataset.label)));
    }
    $("accept").disabled = !s;
    if (!s) {
      detail.replaceChildren(make("p", "muted", "Click a sentence or press j."));
      return;
    }
    const model = labelInfo(s.label);
    const saved = { saving: "saving\u2026", saved: "saved", error: "not saved" }[s.saved] || "";
    const reviewer = s.reviewer ? `${labelInfo(s.reviewer).name} (${s.action}${saved ? `, ${saved}` : ""})` : "not reviewed yet";
    const facts = make("dl", "facts");
    facts.append(make("dt", "", "Model"), make("dd", "", `${model.name}, ${pct(s.confidence)}`),
      make("dt", "", "Evidence"), make("dd", "", cueSummary(s) || "no cue words"),
      make("dt", "", "Reviewer"), make("dd", "", reviewer));
    const bars = make("ul", "probabilities");
    for (const info of state.labels) {
      const item = withLabelStyle(make("li"), info);
      const meter = make("meter");
      meter.min = 0;
      meter.max = 1;
      meter.value = s.probabilities[info.id];
      meter.setAttribute("aria-label", `${info.name} probability`);
      item.append(make("span", "", info.name), meter, make("span", "", pct(s.probabilities[info.id])));
      bars.append(item);
    }
    const quote = make("blockquote", "detail-text");
    quote.append(...sentenceText(s));
    detail.replaceChildren(make("p", "detail-title", `Sentence ${s.sentence_index + 1} of ${state.sentences.length}`),
      quote, facts, bars);
  }

  function refresh(s) {
    updateSentence(s);
    updateCounts();
    renderNeeds();
    renderDetail();
  }

  function refreshAll() {
    for (const s of state.sentences) updateSentence(s);
    updateCounts();
    renderNeeds();
    renderDetail();
  }

  // ------------------------------------------------------------------ moving and deciding

  function select(index, scroll) {
    const next = state.sentences[index];
    if (!next) return;
    const previous = state.sentences[state.current];
    state.current = index;
    for (const s of state.sentences) s.el.tabIndex = -1;
    next.el.tabIndex = 0;
    if (previous) updateSentence(previous);
    updateSentence(next);
    next.el.focus({ preventScroll: true });
    if (scroll) next.el.scrollIntoView({ block: scroll });
    renderDetail();
  }

  function move(delta) {
    const visible = state.sentences.filter((s) => !state.hidden.has(effective(s)));
    if (!visible.length) return;
    let pos = visible.findIndex((s) => s.sentence_index === state.current);
    if (pos === -1) pos = delta > 0 ? 0 : visible.length - 1;
    else pos = Math.min(Math.max(pos + delta, 0), visible.length - 1);
    select(visible[pos].sentence_index, "nearest");
  }

  function decide(label) {
    const s = state.sentences[state.current];
    if (!s || !state.article) return;
    const before = { reviewer: s.reviewer, action: s.action, saved: s.saved };
    s.reviewer = label;
    s.action = label === s.label ? "accepted" : "corrected";
    s.saved = "saving";
    refresh(s);
    const record = {
      article_id: state.article.id, sentence_index: s.sentence_index, start: s.start, end: s.end, text: s.text,
      model_label: s.label, model_confidence: s.confidence, model_version: state.modelVersion, reviewer_label: label,
    };
    // Decisions are sent one after another so the server keeps them in the reviewer's order.
    state.saving = state.saving.then(async () => {
      try {
        await api("/v1/feedback", { method: "POST", json: record, auth: true });
        if (s.reviewer === label) s.saved = "saved";
        setStatus(`Saved: sentence ${s.sentence_index + 1} ${s.action} as ${labelInfo(label).name}.`);
      } catch (error) {
        if (s.reviewer === label) Object.assign(s, before);
        setStatus(`Not saved: ${error.message}`, true);
      }
      if (s.el) refresh(s);
    });
  }

  // ------------------------------------------------------------------ loading articles

  function applyFeedback(records) {
    const decided = new Set();
    for (const record of records) {
      let s = state.sentences[record.sentence_index];
      if (!s || s.text !== record.text) s = state.sentences.find((x) => x.text === record.text);
      if (!s) continue;
      s.reviewer = record.reviewer_label;
      s.action = record.action;
      s.saved = "saved";
      decided.add(s.sentence_index);
    }
    return decided.size;
  }

  async function classify(note = "") {
    const text = $("article-text").value;
    const idField = $("article-id");
    if (!text.trim()) {
      setStatus("Paste an article or open a file first.", true);
      return;
    }
    if (!idField.value.trim()) {
      idField.value = textId(text);
      idField.dataset.auto = "1";
    }
    const id = idField.value.trim();
    $("classify").disabled = true;
    setStatus("Classifying\u2026");
    try {
      const result = await api("/v1/classify", { method: "POST", json: { text, article_id: id, explain: true } });
      const feedback = await api(`/v1/feedback?article_id=${encodeURIComponent(id)}`);
      state.article = { id, text };
      state.modelVersion = result.model_version;
      state.sentences = result.records.map((r) => ({
        ...r, shownCues: drawableCues(r), reviewer: null, action: null, saved: null, el: null,
      }));
      state.current = -1;
      const restored = applyFeedback(feedback.records);
      render();
      remember(id, text, idField.dataset.auto === "1");
      $("input-panel").open = state.fileArticles.length > 1; // keep the file's article list at hand
      const restoredNote = restored ? `; ${restored} earlier decision(s) restored` : "";
      setStatus(`${state.sentences.length} sentences classified by model ${result.model_version}${restoredNote}.${note}`);
    } catch (error) {
      setStatus(`Could not classify: ${error.message}`, true);
    } finally {
      $("classify").disabled = false;
    }
  }

  function remember(id, text, auto) {
    try {
      localStorage.setItem(STORE_ARTICLE, JSON.stringify({ id, text, auto }));
    } catch {
      // storage full or disabled: the article just won't reopen by itself after a reload
    }
  }

  function recalled() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_ARTICLE) || "null");
      return saved && typeof saved.text === "string" && typeof saved.id === "string" ? saved : null;
    } catch {
      return null;
    }
  }

  function loadArticle(article) {
    $("article-text").value = article.text;
    $("article-id").value = article.id;
    $("article-id").dataset.auto = "1";
  }

  async function openFile(file) {
    let content;
    try {
      content = await file.text();
    } catch (error) {
      setStatus(`Cannot read ${file.name}: ${error.message}`, true);
      return;
    }
    let note = "";
    if (/\.(jsonl|ndjson)$/i.test(file.name)) {
      const articles = [];
      let skipped = 0;
      content.split(/\r?\n/).forEach((line, i) => {
        if (!line.trim()) return;
        try {
          const record = JSON.parse(line);
          if (record && typeof record.text === "string" && record.text.trim()) {
            articles.push({ id: record.id != null ? String(record.id) : `${file.name}:${i + 1}`, text: record.text });
          } else {
            skipped += 1;
          }
        } catch {
          skipped += 1;
        }
      });
      if (!articles.length) {
        setStatus(`${file.name} has no JSON lines with a "text" field.`, true);
        return;
      }
      state.fileArticles = articles;
      $("article-select").replaceChildren(...articles.map((article, i) => {
        const option = make("option", "", article.id);
        option.value = String(i);
        return option;
      }));
      $("article-select-field").hidden = articles.length < 2;
      loadArticle(articles[0]);
      if (skipped) note = ` Skipped ${skipped} line(s) of ${file.name} without a "text" field.`;
    } else {
      state.fileArticles = [];
      $("article-select-field").hidden = true;
      loadArticle({ id: file.name, text: content });
    }
    await classify(note);
  }

  // ------------------------------------------------------------------ export

  function reviewedRows() {
    return state.sentences.map((s) => ({
      article_id: state.article.id, sentence_index: s.sentence_index, start: s.start, end: s.end, text: s.text,
      label: effective(s), model_label: s.label, reviewer_label: s.reviewer || "", confidence: s.confidence,
      model_version: state.modelVersion, probabilities: s.probabilities,
    }));
  }

  function csvCell(value) {
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // keep spreadsheets from running a cell as a formula
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function download(content, type, suffix) {
    const blob = new Blob([content], { type });
    const url = URL.createObjectURL(blob);
    const link = make("a");
    link.href = url;
    link.download = `${state.article.id.replace(/[^A-Za-z0-9_-]+/g, "_")}.reviewed.${suffix}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function exportCsv() {
    const columns = ["article_id", "sentence_index", "start", "end", "text", "label", "model_label", "reviewer_label",
      "confidence", "model_version"];
    const lines = [[...columns, ...state.labels.map((info) => `p_${info.id}`)].join(",")];
    for (const row of reviewedRows()) {
      const cells = columns.map((column) => row[column]).concat(state.labels.map((info) => row.probabilities[info.id]));
      lines.push(cells.map(csvCell).join(","));
    }
    download(`${lines.join("\r\n")}\r\n`, "text/csv;charset=utf-8", "csv");
  }

  function exportJsonl() {
    download(reviewedRows().map((row) => JSON.stringify(row)).join("\n") + "\n", "application/x-ndjson", "jsonl");
  }

  // ------------------------------------------------------------------ wiring

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target instanceof Element ? event.target : null;
    if (target && target.closest("input, textarea, select, [contenteditable]")) return;
    if (!state.sentences.length) return;
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      move(event.key === "j" ? 1 : -1);
    } else if (/^[1-9]$/.test(event.key) && state.labels[Number(event.key) - 1] && state.current >= 0) {
      event.preventDefault();
      decide(state.labels[Number(event.key) - 1].id);
    } else if (event.key === "Enter" && state.current >= 0 && !(target && target.closest("button, a, summary"))) {
      event.preventDefault();
      decide(state.sentences[state.current].label);
    }
  }

  function bindEvents() {
    $("article-form").addEventListener("submit", (event) => {
      event.preventDefault();
      classify();
    });
    $("article-text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        classify();
      }
    });
    $("article-text").addEventListener("input", () => {
      // New text is a new article, unless the reviewer named it.
      if ($("article-id").dataset.auto === "1") $("article-id").value = "";
    });
    $("article-id").addEventListener("input", () => {
      $("article-id").dataset.auto = "";
    });
    $("file").addEventListener("change", async () => {
      const file = $("file").files[0];
      if (file) await openFile(file);
      $("file").value = "";
    });
    $("article-select").addEventListener("change", () => {
      const article = state.fileArticles[Number($("article-select").value)];
      if (article) {
        loadArticle(article);
        classify();
      }
    });
    $("threshold").addEventListener("input", () => {
      state.threshold = Number($("threshold").value);
      $("threshold-value").textContent = pct(state.threshold);
      refreshAll();
    });
    $("token").addEventListener("change", () => sessionStorage.setItem(STORE_TOKEN, $("token").value.trim()));
    $("token-field").addEventListener("submit", (event) => event.preventDefault());
    $("article").addEventListener("click", (event) => {
      const node = event.target instanceof Element ? event.target.closest(".sentence") : null;
      if (node) select(Number(node.dataset.index), null);
    });
    $("accept").addEventListener("click", () => {
      const s = state.sentences[state.current];
      if (s) decide(s.label);
    });
    $("export-csv").addEventListener("click", exportCsv);
    $("export-jsonl").addEventListener("click", exportJsonl);
    document.addEventListener("keydown", onKey);
  }

  async function init() {
    bindEvents();
    let health;
    try {
      health = await api("/health");
    } catch (error) {
      setStatus(`Cannot reach the server: ${error.message}`, true);
      return;
    }
    state.labels = health.labels;
    state.byId = new Map(health.labels.map((info) => [info.id, info]));
    state.needsSourcing = health.needs_sourcing;
    state.cueKinds = Array.isArray(health.cue_kinds) ? health.cue_kinds : [];
    $("model-version").textContent = `Model ${health.model_version}`;
    if (health.writes_require_token) {
      $("token-field").hidden = false;
      $("token").value = sessionStorage.getItem(STORE_TOKEN) || "";
    }
    buildLegend();
    buildCueLegend();
    buildLabelButtons();
    const saved = recalled();
    if (saved) {
      $("article-text").value = saved.text;
      $("article-id").value = saved.id;
      $("article-id").dataset.auto = saved.auto ? "1" : "";
      await classify();
    }
    document.body.dataset.ready = "true";
  }

  init();
})();
