// The chair's sync page: while a push runs, ask the server for its progress every second.
(() => {
  const panel = document.getElementById("sync-panel");
  if (!panel) return;
  const box = document.getElementById("sync-progress");
  const bar = document.getElementById("sync-bar");
  const status = document.getElementById("sync-status");
  const button = document.getElementById("sync-push");
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
      status.textContent = state.message;
      status.classList.toggle("error", state.ok === false);
      if (button) button.disabled = false;
    }
  }

  if (panel.dataset.running === "true") poll();
})();
