// Small behaviours every page may use. No inline script anywhere (the CSP forbids it).
document.addEventListener("click", (event) => {
  if (event.target.closest(".print-button")) window.print();
});

// An irreversible action asks first, naming its consequence: put the sentence in data-confirm on the
// form (or on the one submit button that needs it), e.g. data-confirm="121 户将记入积分，不能撤回。确定？".
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// A table wider than its screen scrolls sideways inside its .table-wrap; a keyboard user must be able
// to reach that scroller too, so a wrapper that scrolls takes focus (and arrow keys then scroll it).
function focusableScrollers() {
  for (const wrap of document.querySelectorAll(".table-wrap")) {
    const scrolls = wrap.scrollWidth > wrap.clientWidth + 1 || wrap.scrollHeight > wrap.clientHeight + 1;
    if (scrolls && !wrap.hasAttribute("tabindex")) {
      wrap.tabIndex = 0;
      wrap.dataset.scrollFocus = "";
    } else if (!scrolls && "scrollFocus" in wrap.dataset) {
      wrap.removeAttribute("tabindex");
      delete wrap.dataset.scrollFocus;
    }
  }
}
focusableScrollers();
window.addEventListener("resize", focusableScrollers);
window.addEventListener("load", focusableScrollers);

// On a phone the menu is one sideways-scrolling row: show the current page's item.
const currentNavItem = document.querySelector(".nav [aria-current='page']");
if (currentNavItem) {
  const nav = currentNavItem.parentElement;
  if (nav.scrollWidth > nav.clientWidth) {
    const offset = currentNavItem.getBoundingClientRect().left - nav.getBoundingClientRect().left;
    nav.scrollLeft += offset - (nav.clientWidth - currentNavItem.offsetWidth) / 2;
  }
}

// A file larger than the server takes (MAX_CONTENT_LENGTH) is refused here, in words, before it is
// sent: the server could only cut the connection, and the page and what was typed would be lost.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.files) return;
  const limit = Number(document.body.dataset.maxUpload || 0);
  const size = Array.from(input.files).reduce((sum, file) => sum + file.size, 0);
  const megabytes = (n) => (n / 1024 / 1024).toFixed(1).replace(/\.0$/, "");
  const message = limit && size > limit
    ? document.body.dataset.tooBig.replace("{size}", megabytes(size)).replace("{max}", megabytes(limit))
    : "";
  input.setCustomValidity(message);
  if (message) input.reportValidity();
});

// A refused form comes back with its fields marked (the field macro's aria-invalid, or .has-error) and
// one banner at the top; the first marked field may be far below it. Take the focus there, scrolled
// into view, so the person lands on what to fix. (A field counted over its length by fields.js later
// is marked while typing, not here.)
function focusFirstRefused() {
  const refused = Array.from(
    document.querySelectorAll("[aria-invalid='true'], .has-error input, .has-error select, .has-error textarea"),
  ).find((el) => el.type !== "hidden" && !el.disabled && el.getClientRects().length > 0);
  if (!refused) return;
  refused.focus({ preventScroll: true });
  refused.scrollIntoView({ block: "center" });
}
focusFirstRefused();
