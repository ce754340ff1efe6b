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

  // --- who is at the counter ------------------------------------------------------------------
  // What was typed and not found comes back selected: the next keystrokes replace it.
  const scanInput = document.querySelector(".scan-form .scan-input");
  if (scanInput && scanInput.value) {
    if (document.activeElement === scanInput) scanInput.select();
    else scanInput.addEventListener("focus", () => scanInput.select(), { once: true });
  }
  // Households found by name, 户号 or phone tail: the first one has the focus, arrows move, Enter opens.
  const matches = document.querySelector("[data-matches]");
  if (matches) {
    const links = Array.from(matches.querySelectorAll("a.match"));
    if (links.length) links[0].focus();
    matches.addEventListener("keydown", (event) => {
      const at = links.indexOf(document.activeElement);
      if (at < 0) return;
      const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      links[(at + step + links.length) % links.length].focus();
    });
  }

  // --- the basket ----------------------------------------------------------------------------
  // The keyboard stays in the basket: the first quantity has the focus, Tab goes from quantity to
  // quantity (the − and + buttons are for fingers), Enter confirms.
  const basket = document.querySelector("[data-basket]");
  if (!basket) return;
  const balance = Number(document.getElementById("balance").dataset.balance);
  const totalEl = document.getElementById("total");
  const afterEl = document.getElementById("after");
  const afterLine = document.getElementById("after-line");
  const over = document.getElementById("over");
  const lines = document.getElementById("lines");
  const noLines = document.getElementById("no-lines");
  const confirm = basket.querySelector(".confirm");
  const tiles = Array.from(basket.querySelectorAll(".tile"));
  const say = (template, values) =>
    template.replace(/%\((\w+)\)s/g, (_m, name) => String(values[name]));

  // a quantity is a whole number from 0 to the stock; more than the stock becomes the stock, and says so
  const clamp = (tile, input) => {
    const stock = Number(tile.dataset.stock);
    const typed = Math.floor(Number(input.value) || 0);
    const qty = Math.max(0, Math.min(typed, stock));
    if (String(qty) !== input.value && input.value !== "") input.value = qty;
    tile.dataset.capped = typed > stock ? "1" : "";
    return qty;
  };

  const update = () => {
    let total = 0;
    const chosen = [];
    tiles.forEach((tile) => {
      const qty = clamp(tile, tile.querySelector("input"));
      const points = qty * Number(tile.dataset.price);
      total += points;
      tile.classList.toggle("chosen", qty > 0);
      if (qty > 0) chosen.push(say(basket.dataset.line, { name: tile.dataset.name, qty: qty, points: points }));
    });
    lines.replaceChildren(...chosen.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
    noLines.hidden = chosen.length > 0;
    const left = balance - total;
    tiles.forEach((tile) => {
      const stock = Number(tile.dataset.stock);
      const qty = Number(tile.querySelector("input").value) || 0;
      // cannot afford one more of it (and has none of it yet): dimmed, and said in words
      const short = stock > 0 && qty === 0 && Number(tile.dataset.price) > left;
      tile.classList.toggle("unaffordable", short);
      const note = tile.querySelector(".tile-note");
      let text = "";
      if (stock <= 0) text = basket.dataset.out;
      else if (tile.dataset.capped) text = say(basket.dataset.capped, { n: stock });
      else if (short) text = basket.dataset.unaffordable;
      if (note.textContent !== text) note.textContent = text;
    });
    totalEl.textContent = total;
    afterEl.textContent = Math.max(left, 0);
    if (left < 0) over.textContent = say(basket.dataset.short, { n: -left });
    afterLine.hidden = left < 0;
    over.hidden = left >= 0;
    confirm.disabled = total === 0 || left < 0;
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
  // typing replaces the quantity: the 0 that was there is selected when the field gets the focus
  basket.addEventListener("focusin", (event) => {
    if (event.target.matches(".tile-qty input")) event.target.select();
  });
  basket.addEventListener("submit", () => {
    // one press is enough; a second would resend the same idempotency key anyway
    window.setTimeout(() => { confirm.disabled = true; }, 0);
  });
  update();
  // the first quantity has the focus, for the scanner's hands on the keyboard; not on a touch screen,
  // where a focused field would open the phone's keyboard over the goods
  const first = basket.querySelector(".tile-qty input:not([disabled])");
  const touch = window.matchMedia("(hover: none) and (pointer: coarse)").matches;
  if (first && !touch) first.focus();
})();
