// Text fields say how long they may be instead of cutting a paste short without a word.
//
// A field drawn by the field macro (templates/_macros.html) has no maxlength, only data-maxlength: a
// longer text stays as typed, a counter shows once the text nears the limit and turns red past it, and
// the server refuses it naming the field. A field written with a plain maxlength (elsewhere) keeps it, and the counter says so when a
// paste was cut.
(() => {
  const zh = document.documentElement.lang !== "en";
  const say = {
    count: (n, max) => (zh ? `${n} / ${max} 字` : `${n} / ${max} characters`),
    over: (n, max) => (zh ? `${n} / ${max} 字，多了 ${n - max} 字，请删减` : `${n} / ${max} characters: ${n - max} too many, please shorten`),
    cut: (max, lost) => (zh ? `粘贴的内容超过 ${max} 字，后面 ${lost} 字没有放进来` : `The pasted text is over ${max} characters: the last ${lost} were left out`),
  };

  function counterFor(input) {
    let counter = input.parentElement.querySelector(`.counter[data-for="${CSS.escape(input.name)}"]`);
    if (!counter) {
      counter = document.createElement("small");
      counter.className = "counter";
      counter.dataset.for = input.name;
      counter.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", counter);
    }
    return counter;
  }

  function limitOf(input) {
    return Number(input.dataset.maxlength || input.getAttribute("maxlength") || 0);
  }

  function update(input) {
    const max = limitOf(input);
    const n = [...input.value].length;
    const counter = counterFor(input);
    const over = n > max;
    // quiet until the text nears its limit: a counter under every short field is noise
    counter.hidden = n < max * 0.8;
    counter.textContent = over ? say.over(n, max) : say.count(n, max);
    counter.classList.toggle("over", over);
    input.setAttribute("aria-invalid", over ? "true" : "false");
  }

  function watched(input) {
    if (input.type === "password" || input.inputMode === "numeric") return false;
    return input.dataset.maxlength ? true : limitOf(input) >= 20;
  }

  document.addEventListener("input", (event) => {
    const input = event.target;
    if (input.matches && input.matches("input, textarea") && watched(input)) update(input);
  });

  // a plain maxlength still cuts a paste: say so, with how much was left out
  document.addEventListener("paste", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches("input[maxlength], textarea[maxlength]") || !watched(input)) return;
    const pasted = (event.clipboardData && event.clipboardData.getData("text")) || "";
    const max = limitOf(input);
    const room = max - [...input.value].length + (input.selectionEnd - input.selectionStart);
    const lost = [...pasted].length - room;
    if (lost > 0) {
      setTimeout(() => {
        const counter = counterFor(input);
        counter.hidden = false;
        counter.textContent = say.cut(max, lost);
        counter.classList.add("over");
      });
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-maxlength], textarea[data-maxlength]").forEach((input) => {
      if (input.value) update(input);
    });
  });
})();
