// The score grid (打分表): households × criteria, driven by the keyboard, saved cell by cell.
//
// ONE rule moves the cursor, the same for every cell (yes/no and counted alike): typing never moves it.
// - A digit sets the count of the cell the cursor is on (0 or Backspace/Delete clear it). A cell
//   that may count up to 9 saves at once; one that may count 10 or more keeps the digits as a draft
//   (1, 2 → 12) until the cursor leaves it.
// - Enter or Tab confirms the cell and moves to the next one in reading order (the next criterion,
//   then the next household's first); Shift-Enter / Shift-Tab go back. An empty cell confirmed this
//   way is saved as 0, so the server knows it was looked at.
// - Arrow keys move without confirming (Up/Down rows, Left/Right columns).
// So a round is "[the count] Enter" per cell: one key for an empty cell, two for a scored one.
// - A household whose every cell the server holds (typed, or confirmed empty) is marked complete.
// - More than data-max is refused, visibly, and never sent.
// - Every change is written ahead to localStorage (keyed by the save URL and the user) before it is
//   POSTed, and removed only once the server has confirmed it. A network failure or a 5xx keeps the
//   cell marked and pending; pending cells are retried when the browser comes back online, every few
//   seconds, and when the page is opened again — a refresh or a dropped connection loses nothing. A
//   4xx answer (the server refused the value) shows its message and puts the cell back.
// - Saves of one cell are serialised: at most one request per cell is in flight, and only the latest
//   value typed is sent next, so a fast typist's changes are never reordered.
// - The status line says 已保存 only when no cell is a draft, waiting, or failed.
//
// Plain JavaScript, no library, no inline script (the CSP is script-src 'self').
// The phone's household list (逐户打分): the search field filters the list as one types. Without
// script the same field searches on the server.
(() => {
  "use strict";
  const search = document.querySelector("form.household-search input[name=q]");
  const items = Array.from(document.querySelectorAll("ul.household-list li[data-search]"));
  if (!search || !items.length) return;
  const none = document.querySelector(".household-none");
  search.addEventListener("input", () => {
    const wanted = search.value.trim();
    let shown = 0;
    items.forEach((li) => {
      const match = !wanted || li.dataset.search.includes(wanted);
      li.hidden = !match;
      if (match) shown += 1;
    });
    if (none) none.hidden = shown > 0;
  });
})();

(() => {
  "use strict";

  const table = document.querySelector("table.score-grid[data-save-url]");
  if (!table) return;

  const saveUrl = table.dataset.saveUrl;
  const statusLine = document.querySelector("p.grid-status");
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : "";
  // Per round and per user: on an office PC shared by the panel, one member's unsent cells wait for
  // that member, never go out under another's name.
  const STORE_KEY =
    "pointsmart.grid.pending:" + new URL(saveUrl, window.location.href).pathname + ":" + (table.dataset.user || "");
  const RETRY_MS = 5000;
  const REQUEST_TIMEOUT_MS = 15000;

  // --- the cells ---------------------------------------------------------------------------------

  const rows = Array.from(table.querySelectorAll("tbody tr[data-household]"));
  const matrix = rows.map((tr) => Array.from(tr.querySelectorAll("input[data-criterion]")));
  const cells = matrix.flat();
  const position = new Map(); // input → [row, column]
  matrix.forEach((row, r) => row.forEach((input, c) => position.set(input, [r, c])));

  const isEditable = (input) => !input.readOnly && !input.disabled;
  const anyEditable = cells.some(isEditable);
  // Where the cursor may land: the editable cells, or every cell of a read-only grid.
  const canLand = (input) => !anyEditable || isEditable(input);

  const keyOf = (household, criterion) => `${household}:${criterion}`;
  const display = (times) => (times ? String(times) : "");
  const signed = (n) => (n > 0 ? `+${n}` : n < 0 ? String(n) : "");

  /** One cell's save state: what the server has (confirmed), what the user wants (want). */
  const states = new Map();

  function stateFor(household, criterion, input) {
    const key = keyOf(household, criterion);
    let st = states.get(key);
    if (!st) {
      // A cell not on this page (another group's) has an unknown server value: null, so it is sent.
      const times = input ? parseInt(input.value, 10) || 0 : null;
      // decided: the server holds this cell (a count, or 0 confirmed); force: send it even if unchanged
      const decided = Boolean(input && input.dataset.decided);
      st = { key, household, criterion, input, confirmed: times, want: times, inflight: false, failed: false, decided, force: false };
      states.set(key, st);
    } else if (input && !st.input) {
      st.input = input;
    }
    return st;
  }

  const cellState = (input) => stateFor(Number(input.closest("tr").dataset.household), Number(input.dataset.criterion), input);
  cells.forEach(cellState);

  // --- the pending store (write-ahead, survives a refresh) -----------------------------------------

  function readStore() {
    try {
      const parsed = JSON.parse(window.localStorage.getItem(STORE_KEY) || "{}");
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch (err) {
      return {};
    }
  }

  function writeStore(pending) {
    try {
      if (Object.keys(pending).length) window.localStorage.setItem(STORE_KEY, JSON.stringify(pending));
      else window.localStorage.removeItem(STORE_KEY);
    } catch (err) {
      // Private mode or a full store: the in-memory retry still works while the page stays open.
    }
  }

  function remember(st) {
    const pending = readStore();
    pending[st.key] = { household_id: st.household, criterion_id: st.criterion, times: st.want };
    writeStore(pending);
  }

  function forget(st, settled) {
    const pending = readStore();
    // Only forget the value that was settled: another tab may have stored a newer one meanwhile.
    if (pending[st.key] && pending[st.key].times === settled) {
      delete pending[st.key];
      writeStore(pending);
    }
  }

  // --- the status line and the marks on cells ------------------------------------------------------

  let lastError = "";
  let errorPlain = false; // lastError is a whole sentence (a read-only cell), not a refusal to wrap
  let stale = false;
  let savedOnce = false;

  function text(name) {
    return (statusLine && statusLine.dataset[name]) || "";
  }

  function showStatus() {
    if (!statusLine) return;
    let failed = 0;
    let busy = 0;
    states.forEach((st) => {
      if (!unsettled(st)) return;
      if (st.failed) failed += 1;
      else busy += 1;
    });
    const drafts = table.querySelectorAll("input.draft").length;
    let message = "";
    let kind = "";
    if (failed) {
      message = `${text(stale ? "stale" : "offline") || text("offline")} (${failed})`;
      kind = "offline";
    } else if (drafts) {
      message = text("draft");
      kind = "draft";
    } else if (busy) {
      message = text("saving");
      kind = "saving";
    } else if (lastError) {
      message = errorPlain ? lastError : (text("error") || "{reason}").replace("{reason}", lastError);
      kind = "error";
    } else if (savedOnce) {
      message = text("saved");
      kind = "saved";
    }
    statusLine.textContent = message;
    statusLine.dataset.state = kind;
  }

  /** Whether a cell still waits for the server (a value to send, a 0 to confirm, a request out). */
  function unsettled(st) {
    return st.inflight || st.want !== st.confirmed || st.force;
  }

  function paint(st) {
    const input = st.input;
    if (!input) return;
    const waiting = unsettled(st);
    input.classList.toggle("failed", waiting && st.failed);
    input.classList.toggle("saving", waiting && !st.failed);
    input.classList.toggle("decided", st.decided);
    if (input.classList.contains("failed")) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    markRow(st.household);
  }

  /** "01-003 李桂兰 · 志愿服务": the household and criterion of a cell, for a message about it. */
  function cellLabel(input) {
    const tr = input.closest("tr");
    const td = input.closest("td");
    const head = td && table.tHead ? table.tHead.rows[0].cells[td.cellIndex] : null;
    const name = head ? head.dataset.name || "" : "";
    return [tr ? tr.dataset.label || "" : "", name].filter(Boolean).join(" · ");
  }

  function refuse(input, message, plain = false) {
    lastError = message;
    errorPlain = plain;
    input.classList.remove("refused");
    void input.offsetWidth; // restart the flash
    input.classList.add("refused");
    showStatus();
  }

  function tooMany(input) {
    refuse(
      input,
      (text("tooMany") || "{cell} ≤ {max}").replace("{cell}", cellLabel(input)).replace("{max}", input.dataset.max)
    );
  }

  /** A key typed into a cell she may not change: say why instead of ignoring it. */
  function readOnly(input) {
    const tr = input.closest("tr");
    const why = tr ? tr.dataset.why || "" : "";
    if (!why) return;
    refuse(input, (text("readonly") || "{why}").replace("{household}", tr.dataset.label || "").replace("{why}", why), true);
  }

  table.addEventListener("animationend", (event) => event.target.classList.remove("refused"));

  // --- totals ------------------------------------------------------------------------------------

  function rowOf(household) {
    return rows.find((tr) => Number(tr.dataset.household) === household) || null;
  }

  /** A household is complete when the server holds every one of its cells and none is in flux. */
  function markRow(household) {
    const tr = rowOf(household);
    if (!tr || tr.classList.contains("readonly")) return;
    const inputs = Array.from(tr.querySelectorAll("input[data-criterion]"));
    const complete = inputs.every((input) => {
      const st = states.get(keyOf(household, Number(input.dataset.criterion)));
      return st && st.decided && !unsettled(st) && !input.classList.contains("draft");
    });
    tr.classList.toggle("complete", complete);
    const mark = tr.querySelector(".done-mark");
    if (mark) mark.hidden = !complete;
  }

  /** The row's total, from what its cells show. Not from the server's answer: the answers of two
   *  cells of one row can arrive in the other order than the server saved them, and the later
   *  answer would carry the older total. */
  function showTotal(household) {
    const tr = rowOf(household);
    if (!tr) return;
    const totalCell = tr.querySelector("td.total");
    if (!totalCell) return;
    const inputs = Array.from(tr.querySelectorAll("input[data-criterion]"));
    const total = inputs.reduce((sum, input) => sum + cellState(input).want * Number(input.dataset.points), 0);
    totalCell.textContent = signed(total);
  }

  // --- saving, one request per cell at a time -----------------------------------------------------

  // A few requests at a time: the village server has a handful of threads, and a fast typist
  // should queue behind them rather than crowd them.
  const MAX_REQUESTS = 3;
  let active = 0;
  const waiters = [];

  function acquire() {
    if (active < MAX_REQUESTS) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiters.push(resolve));
  }

  function release() {
    const next = waiters.shift();
    if (next) next(); // the slot passes straight on
    else active -= 1;
  }

  /** A request that hangs (a half-dead Wi-Fi) gives up after a while and is retried later. */
  function timeoutSignal() {
    return window.AbortSignal && typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined;
  }

  function settled(st) {
    st.failed = false;
    forget(st, st.want);
    paint(st);
    showStatus();
    return true;
  }

  /** Send the cell's wanted value if the server does not have it yet. Resolves true when the server
   *  answered (saved or refused), false when the save must be retried later. */
  async function pump(st) {
    if (st.inflight) return true;
    if (st.want === st.confirmed && !st.force) return settled(st);
    st.inflight = true;
    paint(st);
    showStatus();
    await acquire();
    const times = st.want; // the latest value typed while the cell waited for its turn
    if (times === st.confirmed && !st.force) {
      release();
      st.inflight = false;
      return settled(st);
    }
    st.force = false;
    let outcome;
    try {
      const response = await fetch(saveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ household_id: st.household, criterion_id: st.criterion, times }),
        signal: timeoutSignal(),
      });
      const json = (response.headers.get("Content-Type") || "").includes("application/json");
      let body = null;
      if (json) {
        try {
          body = await response.json();
        } catch (err) {
          body = null;
        }
      }
      // An ended session or an expired page (CSRF) is not a refusal of the score: keep it.
      const expired = response.status === 401 || (body && body.error && body.error.code === "csrf_failed");
      if (response.ok && body && typeof body.times === "number") {
        outcome = { saved: body };
      } else if (
        !expired && json && body && body.error && response.status >= 400 && response.status < 500 &&
        response.status !== 408 && response.status !== 429
      ) {
        outcome = { refused: body.error.message || body.error.code || String(response.status) };
      } else {
        // A 5xx, a timeout, or an HTML answer: the login page after a redirect (the session ended)
        // or an expired page (CSRF). Keep the value; a refresh or a new login will send it.
        outcome = { retry: true, stale: expired || (!json && (response.redirected || response.status < 500)) };
      }
    } catch (err) {
      outcome = { retry: true, stale: false }; // the network is down
    }
    release();
    st.inflight = false;

    if (outcome.saved) {
      st.confirmed = outcome.saved.times;
      st.decided = true;
      st.force = false; // the server holds the cell now: a 0 confirmed meanwhile is done too
      st.failed = false;
      savedOnce = true;
      stale = false;
      forget(st, times);
    } else if (outcome.refused) {
      // name the cell: "01-003 李桂兰 · 志愿服务：…" (the criterion once, if the server named it already)
      const label = st.input ? cellLabel(st.input) : "";
      const name = label.split(" · ")[1] || "";
      const where = name && outcome.refused.includes(name) ? label.split(" · ")[0] : label;
      lastError = where ? `${where}：${outcome.refused}` : outcome.refused;
      errorPlain = false;
      st.failed = false;
      if (st.want === times) {
        st.want = st.confirmed; // put the cell back to what the server has
        if (st.input) st.input.value = display(st.want);
      }
      forget(st, times);
      showTotal(st.household);
    } else {
      st.failed = true;
      st.force = st.force || times === st.want; // a confirmed 0 that did not get through: send it again
      stale = stale || outcome.stale;
    }
    paint(st);
    showStatus();
    if (!outcome.retry && (st.want !== st.confirmed || st.force)) return pump(st); // typed again meanwhile
    return !outcome.retry;
  }

  /** Change what a cell should hold and send it; an unchanged value is sent too if the server does
   *  not hold the cell yet (a 0 confirmed). */
  function change(st, times) {
    // an unchanged value: nothing to send if the server holds it, or a request for it is out already
    if (times === st.want && (st.decided || st.force || st.inflight)) return;
    if (times === st.want) st.force = true;
    lastError = "";
    st.want = times;
    if (st.input) st.input.value = display(times);
    remember(st);
    showTotal(st.household);
    pump(st);
  }

  let retrying = false;

  /** Send every cell the server does not have yet: one first, to see whether it gets through. */
  async function retryAll() {
    if (retrying) return;
    const waiting = Array.from(states.values()).filter((st) => !st.inflight && (st.want !== st.confirmed || st.force));
    if (!waiting.length) return;
    retrying = true;
    try {
      if (await pump(waiting[0])) await Promise.all(waiting.slice(1).map(pump));
    } finally {
      retrying = false;
    }
  }

  window.addEventListener("online", retryAll);
  window.setInterval(retryAll, RETRY_MS);

  // --- editing -------------------------------------------------------------------------------------

  /** Cells whose next digit starts a new value (just focused) rather than extending the draft. */
  const fresh = new WeakSet();

  /** Save what a cell shows (a multi-count draft), or refuse it. ``confirm``: the person moved on
   *  with Enter or Tab, so an empty cell is a 0 the server should hold. */
  function commit(input, confirm = false) {
    if (!input || !position.has(input) || !isEditable(input)) return;
    const wasDraft = input.classList.contains("draft");
    input.classList.remove("draft");
    const st = cellState(input);
    const raw = input.value.trim();
    if (raw === "" || /^\d{1,2}$/.test(raw)) {
      const times = raw === "" ? 0 : parseInt(raw, 10);
      if (times <= Number(input.dataset.max)) {
        if (confirm || wasDraft || times !== st.want) change(st, times);
        showStatus();
        return;
      }
      tooMany(input);
    }
    input.value = display(st.want);
    showStatus();
  }

  function land(input) {
    if (!input) return;
    input.focus({ preventScroll: true });
    input.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  /** Arrow keys: the nearest landable cell in a direction (rows up/down, columns left/right). */
  function neighbour(input, dr, dc) {
    let [r, c] = position.get(input);
    for (;;) {
      r += dr;
      c += dc;
      if (r < 0 || r >= matrix.length) return null;
      const row = matrix[r];
      if (c < 0 || c >= row.length) return null;
      if (canLand(row[c])) return row[c];
      if (dc) return null; // a read-only cell within a row: stop there rather than skip across
    }
  }

  /** Enter and Tab: the next (or previous) landable cell in reading order. */
  function step(input, direction) {
    for (let i = cells.indexOf(input) + direction; i >= 0 && i < cells.length; i += direction) {
      if (canLand(cells[i])) return cells[i];
    }
    return null;
  }

  /** A digit typed into a cell: it sets the count; the cursor never moves on its own. */
  function typeDigit(input, digit) {
    const max = Number(input.dataset.max);
    const st = cellState(input);
    const startNew = fresh.has(input) || input.value === "" || input.value === "0" || max < 10;
    if (startNew && digit > max) {
      tooMany(input);
      return;
    }
    fresh.delete(input);
    if (max < 10 || (startNew && digit === 0)) {
      input.classList.remove("draft");
      change(st, digit); // a whole count (0 clears): saved at once
      fresh.add(input); // the next digit replaces it
      showStatus();
      return;
    }
    const draft = startNew ? String(digit) : input.value + digit;
    if (Number(draft) > max) {
      tooMany(input);
      return;
    }
    lastError = "";
    errorPlain = false;
    input.value = draft; // saved when the cursor leaves the cell
    input.classList.add("draft");
    showStatus();
  }

  const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

  table.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!position.has(input) || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    if (MOVES[key]) {
      event.preventDefault();
      const target = neighbour(input, ...MOVES[key]);
      commit(input);
      land(target);
      return;
    }
    if (key === "Enter" || key === "Tab") {
      // Both confirm the cell and step in reading order. Tab is handled here too (not left to the
      // browser) so that it lands exactly where Enter does, read-only cells skipped alike.
      const target = step(input, event.shiftKey ? -1 : 1);
      if (key === "Enter" || target) event.preventDefault();
      commit(input, true);
      land(target);
      return;
    }
    if (key === "Escape") {
      input.value = display(cellState(input).want); // drop the draft
      input.classList.remove("draft");
      fresh.add(input);
      input.select();
      showStatus();
      return;
    }
    if (key === "Backspace" || key === "Delete") {
      event.preventDefault();
      input.classList.remove("draft");
      if (isEditable(input)) change(cellState(input), 0);
      else readOnly(input);
      fresh.add(input);
      showStatus();
      return;
    }
    if (key.length === 1) {
      event.preventDefault(); // only digits go into a cell, and we put them there
      if (!isEditable(input)) readOnly(input);
      else if (key >= "0" && key <= "9") typeDigit(input, Number(key));
    }
  });

  // Phones' on-screen keyboards, IMEs and paste send no usable key: tidy up after the fact.
  table.addEventListener("input", (event) => {
    const input = event.target;
    if (!position.has(input) || !isEditable(input) || event.isComposing) return;
    const digits = input.value.replace(/\D/g, "");
    if (Number(input.dataset.max) < 10) {
      const last = digits.slice(-1);
      input.value = display(cellState(input).want);
      fresh.add(input);
      if (last) typeDigit(input, Number(last));
      return;
    }
    input.value = digits.slice(0, 2);
    input.classList.add("draft");
    showStatus();
  });

  table.addEventListener("focusin", (event) => {
    const input = event.target;
    if (!position.has(input)) return;
    fresh.add(input);
    input.select();
  });

  table.addEventListener("focusout", (event) => {
    const input = event.target;
    if (!position.has(input)) return;
    commit(input);
  });

  // Leaving the page with a draft in the focused cell: keep it (written ahead, sent now or later).
  const keepDraft = () => commit(document.activeElement);
  window.addEventListener("pagehide", keepDraft);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") keepDraft();
  });

  // Read-only cells stay visible but out of the Tab order when there is something to edit.
  if (anyEditable) cells.forEach((input) => { if (!isEditable(input)) input.tabIndex = -1; });

  // Filtering by group: the choice applies at once.
  const groupSelect = document.querySelector("form.search select[name=group]");
  if (groupSelect && groupSelect.form) groupSelect.addEventListener("change", () => groupSelect.form.submit());

  // --- on load: what an earlier page (or a dropped connection) left unsaved ------------------------

  const pending = readStore();
  Object.values(pending).forEach((item) => {
    if (!item || typeof item !== "object") return;
    const household = Number(item.household_id);
    const criterion = Number(item.criterion_id);
    const times = Number(item.times);
    if (!Number.isInteger(household) || !Number.isInteger(criterion) || !Number.isInteger(times)) return;
    const input = cells.find(
      (cell) => Number(cell.dataset.criterion) === criterion && Number(cell.closest("tr").dataset.household) === household
    );
    const st = stateFor(household, criterion, input || null);
    st.want = times;
    st.force = true; // the server may hold it already; sending the same count again changes nothing
    if (input) input.value = display(times);
    paint(st);
    showTotal(household);
  });
  rows.forEach((tr) => markRow(Number(tr.dataset.household)));
  showStatus();
  retryAll();

  // 户号 and 户主 both stay put on a sideways scroll: the second column sticks where the first ends.
  const firstHead = table.querySelector("thead th");
  const placeSecondColumn = () => {
    if (firstHead) table.style.setProperty("--second-left", `${firstHead.getBoundingClientRect().width}px`);
  };
  placeSecondColumn();
  window.addEventListener("resize", placeSecondColumn);

  // Ready to type: the first editable cell takes the cursor.
  if (anyEditable && (!document.activeElement || document.activeElement === document.body)) {
    const first = cells.find(isEditable);
    first.focus({ preventScroll: true });
  }
})();
