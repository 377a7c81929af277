// The sandbox workspace page: renders /_sandbox/state as Slack would and sends what a person
// does (commands, clicks, modal submissions, files) through the sandbox's SlackDriver. Plain JS.
(() => {
  "use strict";
  const PAGE = 200;
  const MAX_FILE_BYTES = 10 * 1024 * 1024; // the emulator refuses bigger files too
  const $ = (id) => document.getElementById(id);
  const S = {
    state: JSON.parse($("initial-state").textContent),
    limit: PAGE,
    thread: null,
    modalKey: null,
    fetching: false,
    dirty: false,
    first: true,
    home: new URLSearchParams(location.search).has("home"), // the App Home tab is open
  };
  S.user = S.state.me;
  S.channel = S.state.channel;
  S.thread = S.state.thread ? S.state.thread.ts : null; // a permalink opens its thread
  S.linked = S.state.linked || null; // the message a permalink points at
  const EMOJI = new Set(S.state.emoji || []); // names the page has pictures for
  const elements = new Map(); // data-el id -> {el, ctx, blockId}, for messages
  const viewElements = new Map(); // the same for the open modal ("v" ids)
  let nextEl = 0;

  // -- helpers ----------------------------------------------------------------------------

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
  // `:name:` as the picture the page ships for it; unknown names stay as text.
  const emoji = (html) => html.replace(/:([a-z0-9_+-]+):/g, (m, n) => (EMOJI.has(n)
    ? `<img class="emoji" src="/_sandbox/emoji/${n}.svg" alt=":${n}:" title=":${n}:" width="18" height="18">`
    : m));
  // Slack's text comes entity-escaped (&lt; &gt; &amp;); after esc() one reads "&amp;lt;".
  // Decoding once leaves "&lt;", which shows as "<": never markup from a message.
  const decoded = (html) => html.replace(/&amp;(lt|gt|amp);/g, "&$1;");
  const userName = (id) => {
    const u = S.state.users.find((x) => x.id === id);
    return u ? u.real_name : null;
  };
  const channelName = (id) => {
    const c = S.state.channels.find((x) => x.id === id);
    return c ? c.name : null;
  };
  const time = (ts) =>
    new Date(parseFloat(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const initials = (name) => (name || "?").split(/\s+/).map((w) => w[0]).join("").slice(0, 2);
  const safeUrl = (u) => (/^(https?:|mailto:)/.test(String(u || "")) ? String(u) : "#");

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 4000);
  }

  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: S.user, ...body }),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { /* empty */ }
    if (!r.ok || data.ok === false) toast(`Failed: ${data.error || data.detail || r.status}`);
    return data;
  }

  // -- files ------------------------------------------------------------------------------

  const fileSize = (n) =>
    n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
  const tooBig = (file) =>
    file.size > MAX_FILE_BYTES ? `${file.name} is ${fileSize(file.size)}: files are limited to 10 MB.` : "";

  function fileChip(f) {
    const link = esc(safeUrl(f.permalink));
    const image = String(f.mimetype || "").startsWith("image/");
    const thumb = image ? `<img class="file-thumb" src="${link}" alt="">` : "";
    return `<a class="file-chip" href="${link}" target="_blank" rel="noopener">${thumb}` +
      `<span class="file-name">${esc(f.name)}</span> <span class="muted">${esc(f.pretty_type)} · ${fileSize(f.size)}</span></a>`;
  }

  // As in Slack, a message carrying one image shows it large above its chip.
  function filePreview(files) {
    const f = files.length === 1 ? files[0] : null;
    if (!f || !String(f.mimetype || "").startsWith("image/")) return "";
    const link = esc(safeUrl(f.permalink));
    return `<a class="file-preview" href="${link}" target="_blank" rel="noopener">` +
      `<img src="${link}" alt="${esc(f.title || f.name)}"></a>`;
  }

  const fileChips = (files) =>
    (files && files.length ? `${filePreview(files)}<div class="files">${files.map(fileChip).join("")}</div>` : "");

  // Sends one file to the emulator as S.user; with `fields.channel` it is shared there (and the
  // app hears of it), without one it is only kept, for a modal's file_input. Answers the file.
  async function upload(file, fields = {}) {
    if (tooBig(file)) throw new Error(tooBig(file));
    const form = new FormData();
    form.append("file", file);
    form.append("user", S.user);
    for (const [key, value] of Object.entries(fields)) if (value) form.append(key, value);
    const r = await fetch("/_sandbox/ui/upload", { method: "POST", body: form });
    let data = {};
    try { data = await r.json(); } catch (e) { /* empty */ }
    if (!r.ok || data.ok === false) throw new Error(data.detail || data.error || `HTTP ${r.status}`);
    return data.file;
  }

  // -- mrkdwn -------------------------------------------------------------------------------

  function mrkdwn(text) {
    let html = esc(String(text ?? "").replace(/\u0000/g, ""));
    const held = [];
    const hold = (f) => { held.push(f); return `\u0000${held.length - 1}\u0000`; };
    html = html.replace(/```([\s\S]*?)```/g, (_, c) => hold(`<pre>${decoded(c)}</pre>`));
    html = html.replace(/&lt;!date\^\d+\^[^|&]*(?:\^[^|&]*)?\|(.*?)&gt;/g, (_, f) => hold(`<time>${decoded(f)}</time>`));
    html = html.replace(/`([^`\n]+)`/g, (_, c) => hold(`<code>${decoded(c)}</code>`));
    html = html.replace(/&lt;((?:https?:\/\/|mailto:)[^|\s]*?)(?:\|(.*?))?&gt;/g, (_, u, l) =>
      hold(`<a href="${decoded(u)}" target="_blank" rel="noopener">${decoded(l || u)}</a>`));
    html = html.replace(/&lt;@([UW][A-Z0-9]+)(?:\|(.*?))?&gt;/g, (_, id, l) =>
      hold(`<span class="mention">@${userName(id) ? esc(userName(id)) : decoded(l || id)}</span>`));
    html = html.replace(/&lt;#(C[A-Z0-9]+)(?:\|(.*?))?&gt;/g, (_, id, l) =>
      hold(`<span class="mention">#${channelName(id) ? esc(channelName(id)) : decoded(l || id)}</span>`));
    html = html.replace(/&lt;!subteam\^([A-Z0-9]+)(?:\|(.*?))?&gt;/g, (_, id, l) =>
      hold(`<span class="mention">${l ? decoded(l) : "@" + id}</span>`));
    html = html.replace(/&lt;!(here|channel|everyone)(?:\|.*?)?&gt;/g, (_, w) =>
      hold(`<span class="mention">@${w}</span>`));
    html = html.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])/g, "$1<b>$2</b>");
    html = html.replace(/(^|[^\w_])_(?!\s)([^_\n]+?)_(?![\w_])/g, "$1<i>$2</i>");
    html = html.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g, "$1<s>$2</s>");
    html = emoji(html);
    // Block structure: quotes ("> ") and lists ("• ", "- ", "1. ") become their elements.
    const out = [];
    let group = null;
    const flush = () => {
      if (!group) return;
      const inner = group.lines.map((l) => (group.kind === "quote" ? l : `<li>${l}</li>`));
      if (group.kind === "quote") out.push(`<blockquote>${inner.join("<br>")}</blockquote>`);
      else out.push(`<${group.kind} class="mrkdwn">${inner.join("")}</${group.kind}>`);
      group = null;
    };
    for (const line of html.split("\n")) {
      let kind = null, body = line;
      let m;
      if ((m = line.match(/^(?:&gt;|&amp;gt;)\s?(.*)$/))) { kind = "quote"; body = m[1]; }
      else if ((m = line.match(/^\s*[•◦▪\-]\s+(.*)$/))) { kind = "ul"; body = m[1]; }
      else if ((m = line.match(/^\s*\d+[.)]\s+(.*)$/))) { kind = "ol"; body = m[1]; }
      if (kind) {
        if (!group || group.kind !== kind) { flush(); group = { kind, lines: [] }; }
        group.lines.push(body);
      } else {
        flush();
        out.push(line + "\n");
      }
    }
    flush();
    html = decoded(out.join("").replace(/\n$/, "").replace(/\n/g, "<br>"));
    return html.replace(/\u0000(\d+)\u0000/g, (_, i) => held[+i]);
  }

  function textObj(t) {
    if (t == null) return "";
    if (typeof t === "string") return mrkdwn(t);
    if (t.type === "plain_text") return emoji(esc(t.text));
    return mrkdwn(t.text);
  }
  const plain = (t) => (t == null ? "" : typeof t === "string" ? t : t.text || "");

  // -- Block Kit ----------------------------------------------------------------------------

  function register(el, ctx, blockId) {
    const id = (ctx.view ? "v" : "") + String(nextEl++);
    (ctx.view ? viewElements : elements).set(id, { el, ctx, blockId });
    return id;
  }

  function element(el, ctx, blockId) {
    if (!el) return "";
    const id = () => register(el, ctx, blockId);
    switch (el.type) {
      case "button": {
        const style = el.style ? ` ${el.style}` : "";
        const link = el.url ? ` data-url="${esc(safeUrl(el.url))}"` : "";
        return `<button type="button" class="bk-btn${style}" data-el="${id()}"${link}>${textObj(el.text)}</button>`;
      }
      case "static_select":
      case "overflow": {
        const opts = allOptions(el);
        const first = el.type === "overflow" ? "⋯" : esc(plain(el.placeholder) || "Select an item");
        const initial = el.initial_option ? el.initial_option.value : "";
        return `<select class="bk-select bk-${el.type}" data-el="${id()}" aria-label="${esc(plain(el.placeholder) || el.action_id)}">` +
          `<option value="">${first}</option>` +
          opts.map((o) => `<option value="${esc(o.value)}"${o.value === initial ? " selected" : ""}>${esc(plain(o.text))}</option>`).join("") +
          "</select>";
      }
      case "datepicker":
        return `<input type="date" class="bk-date" data-el="${id()}" value="${esc(el.initial_date || "")}">`;
      case "image":
        return `<img src="${esc(safeUrl(el.image_url))}" alt="${esc(el.alt_text || "")}">`;
      default:
        return `<span class="muted">[${esc(el.type)}]</span>`;
    }
  }

  function allOptions(el) {
    const opts = [...(el.options || [])];
    for (const g of el.option_groups || []) opts.push(...(g.options || []));
    return opts;
  }

  function blocks(list, ctx) {
    return (list || []).map((b) => block(b, ctx)).join("");
  }

  function block(b, ctx) {
    const bid = b.block_id || "";
    switch (b.type) {
      case "header":
        return `<div class="bk-header">${textObj(b.text)}</div>`;
      case "section": {
        const text = b.text ? `<div>${textObj(b.text)}</div>` : "";
        const fields = b.fields ? `<div class="bk-fields">${b.fields.map((f) => `<div>${textObj(f)}</div>`).join("")}</div>` : "";
        const acc = b.accessory ? `<div class="bk-accessory">${element(b.accessory, ctx, bid)}</div>` : "";
        return `<div class="bk-section" data-block-id="${esc(bid)}"><div class="bk-text">${text}${fields}</div>${acc}</div>`;
      }
      case "context":
        return `<div class="bk-context">${(b.elements || []).map((e) => (e.type === "image" ? element(e, ctx, bid) : `<span>${textObj(e)}</span>`)).join("")}</div>`;
      case "divider":
        return '<hr class="bk-divider">';
      case "image": {
        const title = b.title ? `<div class="muted">${textObj(b.title)}</div>` : "";
        return `<div class="bk-image">${title}<img src="${esc(safeUrl(b.image_url))}" alt="${esc(b.alt_text || "")}"></div>`;
      }
      case "actions":
        return `<div class="bk-actions" data-block-id="${esc(bid)}">${(b.elements || []).map((e) => element(e, ctx, bid)).join("")}</div>`;
      case "input":
        return ctx.view ? input(b, ctx.view) : "";
      case "rich_text":
        return `<div>${esc(richText(b))}</div>`;
      default:
        return `<div class="muted">[${esc(b.type)} block]</div>`;
    }
  }

  function richText(b) {
    const walk = (n) => (n.text || "") + (n.elements || []).map(walk).join("");
    return walk(b);
  }

  // -- modal input blocks -------------------------------------------------------------------

  function stateValue(view, bid, aid) {
    const v = (((view.state || {}).values || {})[bid] || {})[aid];
    return v || null;
  }

  function input(b, view) {
    const el = b.element || {};
    const bid = b.block_id || "";
    const aid = el.action_id || "";
    const st = stateValue(view, bid, aid);
    const name = `${bid}.${aid}`;
    const err = (view.errors || {})[bid];
    let control = "";
    switch (el.type) {
      case "plain_text_input":
      case "email_text_input":
      case "url_text_input": {
        const value = st ? st.value ?? "" : el.initial_value ?? "";
        const ph = esc(plain(el.placeholder));
        const max = el.max_length ? ` maxlength="${el.max_length}"` : "";
        control = el.multiline
          ? `<textarea id="${esc(name)}" name="${esc(name)}" placeholder="${ph}"${max}>${esc(value)}</textarea>`
          : `<input type="text" id="${esc(name)}" name="${esc(name)}" placeholder="${ph}"${max} value="${esc(value)}">`;
        break;
      }
      case "number_input": {
        const value = st ? st.value ?? "" : el.initial_value ?? "";
        const step = el.is_decimal_allowed ? "any" : "1";
        const min = el.min_value != null ? ` min="${esc(el.min_value)}"` : "";
        const max = el.max_value != null ? ` max="${esc(el.max_value)}"` : "";
        control = `<input type="number" id="${esc(name)}" name="${esc(name)}" step="${step}"${min}${max} value="${esc(value)}">`;
        break;
      }
      case "static_select": {
        const chosen = st ? st.selected_option && st.selected_option.value : el.initial_option && el.initial_option.value;
        control = `<select id="${esc(name)}" name="${esc(name)}"><option value="">${esc(plain(el.placeholder) || "Select an item")}</option>` +
          allOptions(el).map((o) => `<option value="${esc(o.value)}"${o.value === chosen ? " selected" : ""}>${esc(plain(o.text))}</option>`).join("") +
          "</select>";
        break;
      }
      case "radio_buttons":
      case "checkboxes": {
        const radio = el.type === "radio_buttons";
        let chosen;
        if (st) chosen = radio ? [st.selected_option && st.selected_option.value] : (st.selected_options || []).map((o) => o.value);
        else chosen = radio ? [el.initial_option && el.initial_option.value] : (el.initial_options || []).map((o) => o.value);
        control = (el.options || []).map((o) => {
          const desc = o.description ? `<span class="desc">${textObj(o.description)}</span>` : "";
          return `<label class="bk-choice"><input type="${radio ? "radio" : "checkbox"}" name="${esc(name)}" value="${esc(o.value)}"${chosen.includes(o.value) ? " checked" : ""}> ${textObj(o.text)}${desc}</label>`;
        }).join("");
        break;
      }
      case "datepicker": {
        const value = st ? st.selected_date || "" : el.initial_date || "";
        control = `<input type="date" id="${esc(name)}" name="${esc(name)}" value="${esc(value)}">`;
        break;
      }
      case "file_input":
        control = fileInput(el, name, st);
        break;
      default:
        control = `<span class="muted">[${esc(el.type)}]</span>`;
    }
    const optional = b.optional ? ' <span class="optional">(optional)</span>' : "";
    const hint = b.hint ? `<div class="hint">${textObj(b.hint)}</div>` : "";
    const error = err ? `<div class="field-error" role="alert">${esc(err)}</div>` : "";
    return `<div class="bk-input${err ? " invalid" : ""}" data-block-id="${esc(bid)}" data-action-id="${esc(aid)}" data-type="${esc(el.type)}"${b.optional ? "" : " data-required"}>` +
      `<label for="${esc(name)}">${textObj(b.label)}${optional}</label>${control}${hint}${error}</div>`;
  }

  // Files sent with an earlier try (answered with errors) stay attached unless others are chosen.
  function fileInput(el, name, st) {
    const max = el.max_files || 10;
    const accept = (el.filetypes || []).map((t) => `.${t}`).join(",");
    const kept = st && st.files && st.files.length
      ? `<div class="files" data-kept="${esc(st.files.map((f) => f.id).join(","))}">${st.files.map(fileChip).join("")}</div>`
      : "";
    return `<input type="file" id="${esc(name)}" name="${esc(name)}" data-max-files="${max}"` +
      `${max > 1 ? " multiple" : ""}${accept ? ` accept="${esc(accept)}"` : ""}>${kept}`;
  }

  function readInput(box) {
    const type = box.dataset.type;
    const q = (sel) => box.querySelector(sel);
    switch (type) {
      case "radio_buttons": {
        const c = q("input:checked");
        return c ? c.value : null;
      }
      case "checkboxes":
        return [...box.querySelectorAll("input:checked")].map((c) => c.value);
      case "file_input": {
        const chosen = [...q("input[type=file]").files];
        const kept = q("[data-kept]");
        return chosen.length || !kept ? chosen : kept.dataset.kept.split(",");
      }
      default: {
        const f = q("input, textarea, select");
        return f && f.value !== "" ? f.value : null;
      }
    }
  }

  // -- rendering ----------------------------------------------------------------------------

  function message(m, where) {
    const bot = m.user === S.state.bot_user_id || m.bot_id;
    const name = bot ? "Dispute Desk" : userName(m.user) || m.user;
    const ctx = { channel: S.channel, message_ts: m.ts };
    const body = m.blocks && m.blocks.length ? blocks(m.blocks, ctx) : `<div>${mrkdwn(m.text)}</div>`;
    const replies = where === "channel" && m.reply_count
      ? `<button type="button" class="replies-link" data-thread="${esc(m.ts)}">${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}</button>`
      : "";
    const eph = m.ephemeral ? '<div class="ephemeral-note">Only visible to you</div>' : "";
    const broadcast = m.subtype === "thread_broadcast" ? '<div class="muted">replied to a thread</div>' : "";
    const edited = m.edited ? ' <span class="muted">(edited)</span>' : "";
    const classes = ["msg", m.ephemeral ? "ephemeral" : "", m.reply_count && where === "channel" ? "has-replies" : "",
      where === "channel" && S.thread === m.ts ? "selected" : "",
      where === "thread" && S.linked === m.ts ? "linked" : ""].join(" ");
    const threadAttr = where === "channel" && m.reply_count ? ` data-thread="${esc(m.ts)}"` : "";
    return `<div class="${classes}" data-ts="${esc(m.ts)}"${threadAttr}>` +
      `<div class="avatar${bot ? " bot" : ""}">${esc(initials(name))}</div><div class="msg-body">` +
      `<div class="msg-meta"><b>${esc(name)}</b>${bot ? ' <span class="app-tag">APP</span>' : ""} ${time(m.ts)}${edited}</div>` +
      `${eph}${broadcast}${body}${fileChips(m.files)}${replies}</div></div>`;
  }

  function pinned(box, html) {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    box.innerHTML = html;
    if (atBottom || S.first) box.scrollTop = box.scrollHeight;
  }

  function render() {
    const st = S.state;
    elements.clear();
    const sw = $("user-switcher");
    const humans = st.users.filter((u) => !u.is_bot);
    if (sw.options.length !== humans.length) {
      sw.innerHTML = humans.map((u) => `<option value="${esc(u.id)}">${esc(u.real_name)}</option>`).join("");
    }
    sw.value = S.user;
    if (st.channel) S.channel = st.channel; // e.g. another person's DM answers with one's own
    $("home-link").className = S.home ? "active" : "";
    $("channels").innerHTML = st.channels.map((c) =>
      `<a href="/?channel=${esc(c.id)}" data-channel="${esc(c.id)}" class="${!S.home && c.id === S.channel ? "active" : ""}"># ${esc(c.name)}${c.member ? "" : ' <span class="muted">(not a member)</span>'}</a>`).join("");
    $("dms").innerHTML = st.dm
      ? `<a href="/?channel=${esc(st.dm)}" data-channel="${esc(st.dm)}" class="${!S.home && st.dm === S.channel ? "active" : ""}">Dispute Desk</a>`
      : "";
    $("home").hidden = !S.home;
    $("messages").hidden = $("composer").hidden = S.home;
    if (S.home) {
      $("channel-header").innerHTML = 'Dispute Desk · Home <span class="muted">app</span>';
      $("home").innerHTML = st.home
        ? blocks(st.home.blocks, { view_id: st.home.id, channel: null })
        : '<p class="muted empty-state">Waiting for Dispute Desk to publish its Home tab…</p>';
    } else if (st.is_dm) {
      $("channel-header").innerHTML = `Dispute Desk <span class="muted">direct message · ${st.total} ${st.total === 1 ? "message" : "messages"}</span>`;
    } else {
      $("channel-header").innerHTML = `# ${esc(channelName(S.channel))} <span class="muted">${st.total} ${st.total === 1 ? "message" : "messages"}</span>`;
    }
    const earlier = st.has_more ? '<button type="button" class="load-earlier bk-btn" id="load-earlier">Load earlier messages</button>' : "";
    const list = st.messages.map((m) => message(m, "channel")).join("");
    const empty = st.is_dm
      ? "This is your direct message with Dispute Desk. Nothing here yet: the app posts here when it has something for you."
      : "No messages yet.";
    pinned($("messages"), earlier + (list || `<p class="muted empty-state">${esc(empty)}</p>`));
    const panel = $("thread-panel");
    if (st.thread && !S.home) {
      panel.hidden = false;
      $("thread-channel").textContent = `#${channelName(S.channel)}`;
      pinned($("thread-messages"), st.thread.messages.map((m) => message(m, "thread")).join(""));
      const linked = S.linked && S.first && $("thread-messages").querySelector(".msg.linked");
      if (linked) linked.scrollIntoView({ block: "center" }); // where the permalink points
    } else {
      panel.hidden = true;
      if (S.thread && !st.thread) S.thread = null;
    }
    renderModal(st.view);
    S.first = false;
  }

  function renderModal(view) {
    const dlg = $("modal");
    if (!view) {
      S.modalKey = null;
      if (dlg.open) dlg.close();
      return;
    }
    const key = `${view.id}|${view.hash}|${JSON.stringify(view.errors || {})}`;
    if (key === S.modalKey && dlg.open) return;
    S.modalKey = key;
    const ctx = { view, view_id: view.id, channel: S.channel };
    viewElements.clear();
    const submit = view.submit ? `<button type="submit" class="bk-btn primary" id="modal-submit">${textObj(view.submit)}</button>` : "";
    dlg.innerHTML = `<form id="modal-form" data-view-id="${esc(view.id)}" novalidate>` +
      `<header><h2 id="modal-title">${textObj(view.title)}</h2><button type="button" class="modal-x" aria-label="Close">×</button></header>` +
      `<div class="modal-body">${blocks(view.blocks, ctx)}</div>` +
      `<footer><button type="button" class="bk-btn modal-close">${view.close ? textObj(view.close) : "Cancel"}</button>${submit}</footer></form>`;
    if (!dlg.open) dlg.showModal();
    const firstError = dlg.querySelector(".bk-input.invalid input, .bk-input.invalid textarea");
    if (firstError) firstError.focus();
  }

  // -- data ---------------------------------------------------------------------------------

  function stateQuery() {
    const q = new URLSearchParams({ user: S.user, channel: S.channel, limit: S.limit });
    if (S.thread) q.set("thread", S.thread);
    return q.toString();
  }

  async function refresh() {
    if (S.fetching) { S.dirty = true; return; }
    S.fetching = true;
    try {
      do {
        S.dirty = false;
        const q = stateQuery();
        const r = await fetch(`/_sandbox/state?${q}`);
        const answer = r.ok ? await r.json() : null;
        // A click while the answer was on its way (another channel, a thread) asked for
        // something else: drawing this answer would undo it, so ask again instead.
        if (stateQuery() !== q) { S.dirty = true; continue; }
        if (answer) { S.state = answer; render(); }
      } while (S.dirty);
    } finally {
      S.fetching = false;
    }
  }

  function listen() {
    const es = new EventSource("/_sandbox/events");
    es.addEventListener("changed", (e) => {
      if (Number(e.data) !== S.state.version) refresh();
    });
  }

  // -- what a person does ---------------------------------------------------------------------

  function confirmDialog(c) {
    return new Promise((resolve) => {
      const dlg = $("confirm-dialog");
      $("confirm-title").innerHTML = textObj(c.title) || "Are you sure?";
      dlg.querySelector(".confirm-text").innerHTML = textObj(c.text);
      const ok = dlg.querySelector(".ok");
      const deny = dlg.querySelector(".deny");
      ok.innerHTML = c.confirm ? textObj(c.confirm) : "Yes";
      deny.innerHTML = c.deny ? textObj(c.deny) : "Cancel";
      ok.className = `ok bk-btn ${c.style === "danger" ? "danger" : "primary"}`;
      deny.className = "deny bk-btn";
      const done = (answer) => {
        ok.onclick = deny.onclick = dlg.oncancel = null;
        if (dlg.open) dlg.close();
        resolve(answer);
      };
      ok.onclick = () => done(true);
      deny.onclick = () => done(false);
      dlg.oncancel = (e) => { e.preventDefault(); done(false); };
      dlg.showModal();
    });
  }

  async function act(entry, selected, control) {
    const { el, ctx, blockId } = entry;
    if (el.confirm && !(await confirmDialog(el.confirm))) {
      if (control && control.tagName === "SELECT") control.value = "";
      return;
    }
    if (el.url) window.open(safeUrl(el.url), "_blank", "noopener");
    if (control) control.disabled = true;
    try {
      await post("/_sandbox/ui/action", {
        channel: ctx.channel,
        message_ts: ctx.message_ts || null,
        view_id: ctx.view_id || null,
        action_id: el.action_id,
        block_id: blockId,
        value: el.type === "button" ? el.value ?? null : null,
        selected: selected ?? null,
      });
    } finally {
      if (control) control.disabled = false;
      refresh();
    }
  }

  // The App Home tab: opening it sends `app_home_opened`; the view the app publishes then
  // arrives through the event stream.
  async function openHome() {
    S.home = true;
    S.thread = null;
    history.replaceState(null, "", "/?home=1");
    render();
    await post("/_sandbox/ui/home", {});
    refresh();
  }

  const lookup = (id) => (id.startsWith("v") ? viewElements : elements).get(id);

  document.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-el]");
    if (btn) {
      const entry = lookup(btn.dataset.el);
      if (entry) act(entry, null, btn);
      return;
    }
    if (e.target.closest("[data-home]")) {
      e.preventDefault();
      openHome();
      return;
    }
    const ch = e.target.closest("#sidebar [data-channel]");
    if (!ch && e.target.closest("a, select, input, textarea, label")) return;
    if (ch) {
      e.preventDefault();
      S.home = false;
      S.channel = ch.dataset.channel;
      S.thread = null;
      S.limit = PAGE;
      S.first = true;
      S.linked = null;
      history.replaceState(null, "", `/?channel=${encodeURIComponent(S.channel)}`);
      refresh();
      return;
    }
    if (e.target.id === "load-earlier") {
      S.limit += PAGE;
      refresh();
      return;
    }
    const th = e.target.closest("[data-thread]");
    if (th && th.closest("#messages")) {
      S.thread = th.dataset.thread;
      S.linked = null;
      refresh();
    }
  });

  document.addEventListener("change", (e) => {
    const control = e.target.closest("select[data-el], input[data-el]");
    if (!control || control.value === "") return;
    const entry = lookup(control.dataset.el);
    if (entry) act(entry, control.value, control);
  });

  $("thread-close").addEventListener("click", () => { S.thread = null; refresh(); });

  $("user-switcher").addEventListener("change", (e) => {
    S.user = e.target.value;
    document.cookie = `sandbox_user=${encodeURIComponent(S.user)}; path=/; SameSite=Lax`;
    S.modalKey = null;
    if (S.home) openHome(); // the new person opens their own Home tab
    else refresh();
  });

  // What a person types: a slash command when it starts with "/", a message otherwise (in the
  // open thread for the thread's reply box).
  async function send(box, thread) {
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    box.disabled = true;
    try {
      if (text.startsWith("/")) await post("/_sandbox/ui/command", { channel: S.channel, text });
      else await post("/_sandbox/ui/message", { channel: S.channel, text, thread_ts: thread });
    } finally {
      box.disabled = false;
      box.focus();
      refresh();
    }
  }
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    send($("composer-input"), null);
  });
  $("reply").addEventListener("submit", (e) => {
    e.preventDefault();
    if (S.thread) send($("reply-input"), S.thread);
  });

  // A check the page makes itself, shown like the app's field errors.
  function fieldError(box, text) {
    const div = document.createElement("div");
    div.className = "field-error local";
    div.setAttribute("role", "alert");
    div.textContent = text;
    box.append(div);
  }

  // A modal's chosen files go up first (kept, not shared); the submission carries their ids.
  async function uploadModalFiles(form, values) {
    for (const box of form.querySelectorAll('.bk-input[data-type="file_input"]')) {
      const { blockId, actionId } = box.dataset;
      const chosen = values[blockId][actionId];
      const max = Number(box.querySelector("input[type=file]").dataset.maxFiles);
      if (chosen.length > max) {
        fieldError(box, `Choose at most ${max} ${max === 1 ? "file" : "files"}.`);
        return false;
      }
      try {
        const ids = [];
        for (const f of chosen) ids.push(typeof f === "string" ? f : (await upload(f)).id);
        values[blockId][actionId] = ids;
      } catch (err) {
        fieldError(box, err.message);
        return false;
      }
    }
    return true;
  }

  // The thread's "Attach a file": the person drops it into the thread, as on Slack.
  function attachError(text) {
    $("attach-error").textContent = text;
    $("attach-error").hidden = !text;
  }
  $("attach-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    attachError(file ? tooBig(file) : "");
  });
  $("attach").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const file = $("attach-file").files[0];
    if (!file || !S.thread) return;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    attachError("");
    try {
      await upload(file, { channel: S.channel, thread_ts: S.thread, text: $("attach-text").value.trim() });
      form.reset();
    } catch (err) {
      attachError(err.message);
    } finally {
      btn.disabled = false;
      refresh();
    }
  });

  // The modal: submit, close (×, Cancel, Escape).
  const modal = $("modal");
  async function closeModal() {
    const form = $("modal-form");
    if (!form) return;
    S.modalKey = null;
    modal.close();
    await post("/_sandbox/ui/close", { view_id: form.dataset.viewId });
    refresh();
  }
  modal.addEventListener("cancel", (e) => { e.preventDefault(); closeModal(); });
  modal.addEventListener("click", (e) => {
    if (e.target.closest(".modal-x, .modal-close")) closeModal();
  });
  modal.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const values = {};
    let missing = false;
    for (const box of form.querySelectorAll(".bk-input")) {
      const value = readInput(box);
      const empty = value === null || (Array.isArray(value) && value.length === 0);
      const err = box.querySelector(".field-error.local");
      if (err) err.remove();
      if (empty && box.hasAttribute("data-required")) {
        missing = true;
        fieldError(box, "Please complete this required field.");
      }
      (values[box.dataset.blockId] ||= {})[box.dataset.actionId] = value;
    }
    if (missing) return;
    const btn = $("modal-submit");
    if (btn) btn.disabled = true;
    if (!(await uploadModalFiles(form, values))) {
      if (btn) btn.disabled = false;
      return;
    }
    try {
      await post("/_sandbox/ui/submit", { view_id: form.dataset.viewId, values });
    } finally {
      if (btn) btn.disabled = false;
      S.modalKey = null;
      refresh();
    }
  });

  render();
  listen();
  if (S.home) openHome();
})();
