// The shop counter: live camera scanning where the browser can, and the basket's running total.
"use strict";

(function () {
  // --- identify the card ---------------------------------------------------------------------
  // A live camera needs a secure context (HTTPS or localhost) and getUserMedia. It reads with the
  // browser's own BarcodeDetector where that reads QR codes (Chrome on Android with Google Play
  // services), else with the WebAssembly decoder from static/vendor (zxing-wasm, loaded only when the
  // camera opens). Everything else: the photo button and the typed number. What is read goes into the
  // scan field and is posted, as a scanner's keystrokes would be.
  const camera = document.querySelector("[data-camera]");
  if (camera) {
    const photoInput = camera.querySelector(".photo-input");
    const photoSubmit = camera.querySelector(".photo-submit");
    // With script on, taking the photo sends it; the button is for browsers without script.
    if (photoSubmit) photoSubmit.hidden = true;
    if (photoInput) photoInput.addEventListener("change", () => photoInput.form.submit());

    const scanForm = document.querySelector(".scan-form");
    const start = camera.querySelector(".start-camera");
    const live = camera.querySelector(".live-camera");
    const video = live.querySelector("video");
    const note = camera.querySelector(".scan-mode");
    const say = (text) => {
      note.textContent = text || "";
      note.hidden = !text;
    };
    const canStream = Boolean(window.isSecureContext && navigator.mediaDevices &&
      navigator.mediaDevices.getUserMedia);
    let stream = null;
    let timer = null;
    let opened = 0; // which opening of the camera a reading loop belongs to

    const stop = () => {
      window.clearTimeout(timer);
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.srcObject = null;
      live.hidden = true;
      start.hidden = false;
      start.disabled = false;
    };
    const found = (text) => {
      stop();
      // posted like a scanner's keystrokes: the card's token never goes into an address
      scanForm.elements.q.value = text;
      scanForm.submit();
    };

    // The browser's own detector, if it has one that reads QR codes (a BarcodeDetector that
    // lists no formats — desktop Linux with the flag on, phones without Play services — does not).
    const nativeDetector = async () => {
      if (!("BarcodeDetector" in window)) return null;
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      } catch (err) {
        return null;
      }
    };
    const nativeReader = (detector) => async () => {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : null;
    };

    // The WebAssembly decoder: its script, then its .wasm from our own static folder (never a CDN).
    let zxing = null;
    const loadDecoder = () => {
      zxing = zxing || new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = camera.dataset.decoder;
        script.onerror = () => reject(new Error("decoder script"));
        script.onload = () => {
          const lib = window.ZXingWASM;
          lib.prepareZXingModule({
            overrides: {
              locateFile: (path, prefix) => (path.endsWith(".wasm") ? camera.dataset.wasm : prefix + path),
            },
            fireImmediately: true,
          }).then(() => resolve(lib), reject);
        };
        document.head.append(script);
      });
      return zxing;
    };
    const frame = document.createElement("canvas");
    const wasmReader = (lib) => async () => {
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (!width || !height) return null;
      // at most 640 px on the long side: a card held up to the phone is still many pixels per module
      const scale = Math.min(1, 640 / Math.max(width, height));
      frame.width = Math.round(width * scale);
      frame.height = Math.round(height * scale);
      const context = frame.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, frame.width, frame.height);
      const codes = await lib.readBarcodes(context.getImageData(0, 0, frame.width, frame.height), {
        formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1,
      });
      return codes.length ? codes[0].text : null;
    };

    const open = async (mode, detector) => {
      const mine = ++opened;
      start.disabled = true;
      // the decoder loads while the phone asks for the camera
      const reader = mode === "native" ? Promise.resolve(nativeReader(detector)) : loadDecoder().then(wasmReader);
      reader.catch(() => {});
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        video.srcObject = stream;
        await video.play();
      } catch (err) {
        stop(); // no permission or no camera: the photo button below still works
        say(camera.dataset.modeDenied);
        return;
      }
      live.hidden = false;
      start.hidden = true;
      live.scrollIntoView({ block: "nearest" }); // the picture and its 关闭摄像头 button in sight
      let read;
      try {
        read = await reader;
      } catch (err) {
        stop();
        start.hidden = true;
        say(camera.dataset.modeFailed);
        return;
      }
      // a few frames a second: each is read after the one before, then a pause
      // (closed, or closed and opened again, meanwhile: this loop ends)
      const look = async () => {
        if (!stream || mine !== opened) return;
        let text = null;
        try {
          text = await read();
        } catch (err) { /* a frame that could not be read: try the next one */ }
        if (!stream || mine !== opened) return;
        if (text) found(text);
        else timer = window.setTimeout(look, 250);
      };
      look();
    };

    // leaving the page, or the phone going to another app: the camera goes off
    window.addEventListener("pagehide", () => { if (stream) stop(); });
    document.addEventListener("visibilitychange", () => { if (document.hidden && stream) stop(); });
    live.querySelector(".stop-camera").addEventListener("click", stop);

    (async () => {
      if (!canStream) {
        say(window.isSecureContext ? camera.dataset.modeNone : camera.dataset.modeInsecure);
        return;
      }
      const detector = await nativeDetector();
      const mode = detector ? "native" : typeof WebAssembly === "object" ? "wasm" : null;
      if (!mode) {
        say(camera.dataset.modeNone);
        return;
      }
      if (mode === "wasm") say(camera.dataset.modeWasm);
      camera.dataset.scanMode = mode;
      start.hidden = false;
      start.addEventListener("click", () => open(mode, detector));
    })();
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
