// The family's claim form: shrink large photos on the phone before they are sent.
//
// A phone's photo is often larger than the server takes (5 MB a photo, 8 MB a request) and ten times what
// the panel needs. Each chosen photo over 1 MB is redrawn at most 1600 px a side as a JPEG (which also
// leaves its EXIF behind). The server still checks, cleans and resizes whatever arrives; without this
// script, or in a browser without canvas or DataTransfer, the files go as they are.
(function () {
  "use strict";
  var form = document.querySelector("form.claim-form");
  var input = form && form.querySelector("input[type=file]");
  if (!input) return;
  // A request over the server's limit (data-max-bytes, MAX_CONTENT_LENGTH) is refused unread, and what the
  // family typed with it: say so here, before sending, with the server's own words (data-too-large).
  var MAX = parseInt(input.getAttribute("data-max-bytes"), 10) || 0;
  var MARGIN = 64 * 1024; // the form's text and the multipart framing

  function overLimit() {
    var total = 0;
    Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
    return MAX > 0 && total + MARGIN > MAX;
  }

  function refuse() {
    var label = input.closest("label") || input.parentNode;
    var note = label.querySelector("small.error.too-large");
    if (!note) {
      note = document.createElement("small");
      note.className = "error too-large";
      note.setAttribute("role", "alert");
      label.appendChild(note);
    }
    note.textContent = input.getAttribute("data-too-large") || "";
    label.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  var canShrink = window.DataTransfer && window.createImageBitmap && HTMLCanvasElement.prototype.toBlob;
  var SIDE = 1600;
  var LARGE = 1024 * 1024;
  var ready = Promise.resolve();
  var pending = false;

  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < LARGE) return Promise.resolve(file);
    return createImageBitmap(file, { imageOrientation: "from-image" })
      .then(function (bitmap) {
        var scale = Math.min(1, SIDE / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(bitmap.width * scale));
        canvas.height = Math.max(1, Math.round(bitmap.height * scale));
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        return new Promise(function (resolve) {
          canvas.toBlob(resolve, "image/jpeg", 0.85);
        });
      })
      .then(function (blob) {
        if (!blob || blob.size >= file.size) return file;
        return new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
      })
      .catch(function () {
        return file; // the server gives the clear answer
      });
  }

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files || []);
    if (!canShrink || !files.some(function (f) { return f.size >= LARGE; })) return;
    pending = true;
    form.setAttribute("aria-busy", "true");
    ready = Promise.all(files.map(shrink)).then(function (shrunk) {
      var out = new DataTransfer();
      shrunk.forEach(function (f) { out.items.add(f); });
      input.files = out.files;
    }).finally(function () {
      pending = false;
      form.removeAttribute("aria-busy");
    });
  });

  form.addEventListener("submit", function (event) {
    if (pending) {
      event.preventDefault(); // send once the photos are ready
      ready.then(function () {
        if (overLimit()) refuse();
        else form.submit();
      });
    } else if (overLimit()) {
      event.preventDefault();
      refuse();
    }
  });
})();
