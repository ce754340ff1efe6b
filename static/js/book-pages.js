// The month's book (templates/ledgers/book.html): the page each ledger starts on, in its contents.
//
// Chromium prints "第 N 页" at each page's foot (@page counter(page)) but has no target-counter(), so
// the contents cannot ask the printer where a ledger starts. Here the book is laid out as the printer
// lays it out: for a moment (no paint in between) the print style sheet rules are switched on and the
// screen ones off, and each part of the book (the cover, the contents, each ledger: each starts a new
// page) is laid out in a box of its page's printable size, split into columns of that size — the
// browser breaks columns with the rules it breaks pages with (break-inside, break-after), and a table's
// headings, which a printer repeats on each page and columns do not, are copied in at each break (a
// table's foot, which a printer may repeat too, prints once in the book: scoring.css). Its columns are
// its pages. The numbers go in when the page has loaded (its photos too) and again before printing;
// the contents' <ol> then carries data-pages="ready".
(() => {
  const toc = document.querySelector(".book-toc[data-page-text]");
  if (!toc) return;
  const book = toc.closest(".book");
  // the printable box of each kind of page, in mm, as app.css's @page ledger and ledger-wide set it
  const BOXES = { portrait: [210 - 15 - 15, 297 - 15 - 18], landscape: [297 - 12 - 12, 210 - 12 - 15] };
  const PX_PER_MM = 96 / 25.4;
  // what a width in a media query is compared with when printing: the portrait page's printable width
  const PRINT_WIDTH = BOXES.portrait[0] * PX_PER_MM;

  function printMatches(media) {
    // whether a media query holds on paper: print yes, screen no, a width against the page's
    const text = media.toLowerCase();
    if (/\bprint\b/.test(text)) return !/\bnot\b/.test(text);
    if (/\bscreen\b/.test(text)) return /\bnot\b/.test(text);
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    let holds = true;
    for (const [, side, number, unit] of text.matchAll(/\((min|max)-width:\s*([\d.]+)(px|rem|em)\)/g)) {
      const width = parseFloat(number) * (unit === "px" ? 1 : rem);
      holds = holds && (side === "min" ? PRINT_WIDTH >= width : PRINT_WIDTH <= width);
    }
    return holds;
  }

  function asPrinted() {
    // switch every @media rule to what it is on paper; returns how to switch them back
    const changed = [];
    const walk = (rules) => {
      for (const rule of rules) {
        if (rule instanceof CSSMediaRule) {
          const was = rule.media.mediaText;
          const now = printMatches(was) ? "all" : "not all";
          changed.push([rule, was]);
          rule.media.mediaText = now;
          walk(rule.cssRules);
        }
      }
    };
    for (const sheet of document.styleSheets) {
      try {
        walk(sheet.cssRules);
      } catch {
        // a sheet from elsewhere cannot be read; ours are all our own
      }
    }
    return () => changed.reverse().forEach(([rule, was]) => { rule.media.mediaText = was; });
  }

  function repeatHeadings(box) {
    // a printed table repeats its headings at the top of each page it runs on to; columns do not, so
    // each break in a table gets a copy of its heading rows, as tall as the printer's, before the first
    // row after it — one break at a time, from the top, since each copy moves the breaks after it
    const width = box.clientWidth;
    const left = box.getBoundingClientRect().left;
    const column = (element) => Math.floor((element.getBoundingClientRect().left - left + 1) / width);
    for (const table of box.querySelectorAll("table")) {
      const head = table.tHead;
      if (!head || getComputedStyle(head).display !== "table-header-group") continue;
      for (let placed = 0; placed < 1000; placed += 1) {
        let previous = column(head);
        const next = [...table.tBodies].flatMap((body) => [...body.rows]).find((row) => {
          const here = column(row);
          const moved = here > previous && !row.classList.contains("repeated-head");
          previous = here;
          return moved;
        });
        if (!next) break;
        const copies = [...head.rows].map((row) => {
          const copy = row.cloneNode(true);
          copy.classList.add("repeated-head");
          return copy;
        });
        const body = next.parentElement;
        if (next === body.rows[0]) {
          const heading = document.createElement("tbody");
          heading.append(...copies);
          body.before(heading);
        } else {
          next.before(...copies);
        }
      }
    }
  }

  function pagesOf(part, measure) {
    const [width, height] = BOXES[part.classList.contains("book-wide") ? "landscape" : "portrait"];
    const copy = part.cloneNode(true);
    for (const element of [copy, ...copy.querySelectorAll("[id]")]) element.removeAttribute("id");
    copy.style.breakBefore = "auto";
    const box = document.createElement("div");
    box.style.cssText = `position:absolute;left:-10000mm;top:0;width:${width}mm;height:${height}mm;`
      + `columns:${width}mm;column-gap:0;column-fill:auto;overflow:visible;`;
    box.append(copy);
    measure.append(box);
    repeatHeadings(box);
    const pages = Math.max(1, Math.round(box.scrollWidth / box.clientWidth));
    box.remove();
    return pages;
  }

  function number() {
    const parts = [...book.querySelectorAll(":scope > section")];
    const entries = [...toc.querySelectorAll("[data-ledger]")];
    const restore = asPrinted();
    const measure = document.createElement("div");
    book.append(measure);
    try {
      const counts = new Map(parts.map((part) => [part, pagesOf(part, measure)]));
      const fill = () => {
        const starts = new Map();
        let page = 1;
        for (const part of parts) {
          starts.set(part.id, page);
          page += counts.get(part);
        }
        for (const entry of entries) {
          entry.textContent = toc.dataset.pageText.replace("{n}", starts.get(`book-${entry.dataset.ledger}`));
        }
      };
      fill();
      // the numbers themselves may lengthen the contents: count them again
      const again = pagesOf(toc, measure);
      if (again !== counts.get(toc)) {
        counts.set(toc, again);
        fill();
      }
    } finally {
      measure.remove();
      restore();
    }
    toc.querySelector("ol").dataset.pages = "ready";
  }

  const ready = document.fonts ? document.fonts.ready : Promise.resolve();
  const loaded = document.readyState === "complete"
    ? Promise.resolve()
    : new Promise((resolve) => window.addEventListener("load", resolve, { once: true }));
  Promise.all([ready, loaded]).then(number);
  window.addEventListener("beforeprint", number);
})();
