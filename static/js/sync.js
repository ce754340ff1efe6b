// The chair's sync page: while a push runs, ask the server for its progress every second.
(() => {
  const panel = document.getElementById("sync-panel");
  if (!panel) return;
  const box = document.getElementById("sync-progress");
  const bar = document.getElementById("sync-bar");
  const status = document.getElementById("sync-status");
  const waiting = document.getElementById("sync-waiting");

  async function poll() {
    let state;
    try {
      const response = await fetch(panel.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      state = await response.json();
    } catch (error) {
      setTimeout(poll, 3000);
      return;
    }
    box.hidden = false;
    bar.max = Math.max(state.head_seq, 1);
    bar.value = state.acked_seq;
    if (waiting) waiting.textContent = String(Math.max(state.head_seq - state.acked_seq, 0));
    if (state.running) {
      status.textContent = `${state.acked_seq} / ${state.head_seq}`;
      setTimeout(poll, 1000);
    } else {
      // done: show the page again from the server, with the new last-sync time and acknowledged number
      // (the result message stays: the server keeps it until the next push)
      window.location.reload();
    }
  }

  if (panel.dataset.running === "true") poll();
})();
