// The shop counter: live camera scanning where the browser can, and the basket's running total.
"use strict";

(function () {
  // --- identify the card ---------------------------------------------------------------------
  const camera = document.querySelector("[data-camera]");
  if (camera) {
    const photoInput = camera.querySelector(".photo-input");
    const photoSubmit = camera.querySelector(".photo-submit");
    // With script on, taking the photo sends it; the button is for browsers without script.
    if (photoSubmit) photoSubmit.hidden = true;
    if (photoInput) photoInput.addEventListener("change", () => photoInput.form.submit());

    const scanForm = document.querySelector(".scan-form");
    const canScanLive = "BarcodeDetector" in window && window.isSecureContext &&
      navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
    const start = camera.querySelector(".start-camera");
    const live = camera.querySelector(".live-camera");
    const video = live.querySelector("video");
    let stream = null;

    const stop = () => {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      live.hidden = true;
      start.hidden = false;
    };

    if (canScanLive) {
      start.hidden = false;
      start.addEventListener("click", async () => {
        try {
          stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        } catch (err) {
          return; // no permission or no camera: the photo button below still works
        }
        video.srcObject = stream;
        await video.play();
        live.hidden = false;
        start.hidden = true;
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        const look = async () => {
          if (!stream) return;
          try {
            const found = await detector.detect(video);
            if (found.length) {
              stop();
              // posted like a scanner's keystrokes: the card's token never goes into an address
              scanForm.elements.q.value = found[0].rawValue;
              scanForm.submit();
              return;
            }
          } catch (err) { /* a frame that could not be read: try the next one */ }
          window.setTimeout(look, 250);
        };
        look();
      });
      live.querySelector(".stop-camera").addEventListener("click", stop);
    }
  }

  // --- the basket ----------------------------------------------------------------------------
  const basket = document.querySelector("[data-basket]");
  if (!basket) return;
  const balance = Number(document.getElementById("balance").dataset.balance);
  const totalEl = document.getElementById("total");
  const afterEl = document.getElementById("after");
  const over = document.getElementById("over");
  const confirm = basket.querySelector(".confirm");

  const update = () => {
    let total = 0;
    basket.querySelectorAll(".tile").forEach((tile) => {
      const input = tile.querySelector("input");
      const qty = Math.max(0, Math.min(Number(input.value) || 0, Number(tile.dataset.stock)));
      total += qty * Number(tile.dataset.price);
      tile.classList.toggle("chosen", qty > 0);
    });
    totalEl.textContent = total;
    afterEl.textContent = balance - total;
    over.hidden = total <= balance;
    confirm.disabled = total === 0 || total > balance;
  };

  basket.addEventListener("click", (event) => {
    const button = event.target.closest(".plus, .minus");
    if (!button) return;
    const tile = button.closest(".tile");
    const input = tile.querySelector("input");
    const step = button.classList.contains("plus") ? 1 : -1;
    const next = (Number(input.value) || 0) + step;
    input.value = Math.max(0, Math.min(next, Number(tile.dataset.stock)));
    update();
  });
  basket.addEventListener("input", update);
  basket.addEventListener("submit", () => {
    // one press is enough; a second would resend the same idempotency key anyway
    window.setTimeout(() => { confirm.disabled = true; }, 0);
  });
  update();
})();
