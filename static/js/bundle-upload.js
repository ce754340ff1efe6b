// The county's bundle page: a file larger than one part is sent in parts, so that no request body is
// larger than the server takes (8 MB); then the server joins the parts and imports them. Without this
// script, the plain form still sends files up to 8 MB in one POST.
(() => {
  const form = document.getElementById("bundle-form");
  if (!form) return;
  const input = form.querySelector('input[type="file"]');
  const button = form.querySelector('button[type="submit"]');
  const bar = document.getElementById("bundle-bar");
  const status = document.getElementById("bundle-status");
  const partBytes = Number(form.dataset.partBytes);
  const maxBytes = Number(form.dataset.maxBytes);
  const token = form.querySelector('input[name="csrf_token"]').value;

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function refusal(response) {
    let message = `HTTP ${response.status}`;
    try {
      message = (await response.json()).error.message || message;
    } catch (error) {
      // not JSON (a log-in page, a proxy's answer): the status says enough
    }
    return new Error(message);
  }

  async function post(url, body, contentType) {
    const headers = { "Content-Type": contentType, Accept: "application/json", "X-CSRFToken": token };
    const response = await fetch(url, { method: "POST", body, headers, credentials: "same-origin" });
    if (!response.ok) throw await refusal(response);
    return response.json();
  }

  async function sendInParts(file) {
    const upload = randomId();
    const count = Math.ceil(file.size / partBytes);
    bar.hidden = false;
    bar.max = count;
    for (let index = 0; index < count; index += 1) {
      status.textContent = form.dataset.progress
        .replace("{part}", String(index + 1))
        .replace("{parts}", String(count));
      const query = new URLSearchParams({ upload, index: String(index), count: String(count) });
      const part = file.slice(index * partBytes, (index + 1) * partBytes);
      await post(`${form.dataset.partUrl}?${query}`, part, "application/octet-stream");
      bar.value = index + 1;
    }
    status.textContent = form.dataset.importing;
    const done = JSON.stringify({ upload, count, filename: file.name });
    return post(form.dataset.doneUrl, done, "application/json");
  }

  form.addEventListener("submit", async (event) => {
    const file = input.files && input.files[0];
    if (!file || file.size <= partBytes) return; // one POST, as without the script
    event.preventDefault();
    if (file.size > maxBytes) {
      status.textContent = form.dataset.tooLarge;
      return;
    }
    button.disabled = true;
    try {
      const answer = await sendInParts(file);
      window.location.assign(answer.redirect);
    } catch (error) {
      status.textContent = form.dataset.failed + error.message;
      bar.hidden = true;
      button.disabled = false;
    }
  });
})();
