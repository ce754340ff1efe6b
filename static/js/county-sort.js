// Sort the county tables in place when a header is clicked. Without JavaScript the same header links
// ask the server for the sorted page (?sort=…&dir=…), so this is only a faster path to the same result.
(() => {
  const value = (row, index) => {
    const cell = row.cells[index];
    return cell ? (cell.dataset.value ?? cell.textContent.trim()) : "";
  };
  const isNumber = (text) => text !== "" && !Number.isNaN(Number(text));
  const collator = new Intl.Collator(document.documentElement.lang || "zh-CN", { numeric: true });

  const sortTable = (table, th, descending) => {
    const index = Array.prototype.indexOf.call(th.parentElement.children, th);
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).filter((row) => row.cells.length > 1);
    const numeric = rows.every((row) => isNumber(value(row, index)) || value(row, index) === "");
    rows.sort((a, b) => {
      const x = value(a, index);
      const y = value(b, index);
      const order = numeric ? (Number(x || -Infinity) - Number(y || -Infinity)) : collator.compare(x, y);
      return descending ? -order : order;
    });
    rows.forEach((row) => body.appendChild(row));
    for (const other of th.parentElement.children) {
      other.setAttribute("aria-sort", "none");
      const mark = other.querySelector(".sort-mark");
      if (mark) mark.textContent = "↕";
    }
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const mark = th.querySelector(".sort-mark");
    if (mark) mark.textContent = descending ? "▼" : "▲";
  };

  document.addEventListener("click", (event) => {
    const link = event.target.closest("table[data-sortable] th a.sort");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const th = link.closest("th");
    const table = th.closest("table");
    const current = th.getAttribute("aria-sort");
    const descending = current === "none" ? th.dataset.first === "desc" : current === "ascending";
    sortTable(table, th, descending);
    // keep the address and the other tables' sort links in step, so a reload or a bookmark shows this order
    const params = { [`${th.dataset.param}sort`]: th.dataset.key, [`${th.dataset.param}dir`]: descending ? "desc" : "asc" };
    const update = (href) => {
      const url = new URL(href, window.location.href);
      for (const [key, val] of Object.entries(params)) url.searchParams.set(key, val);
      return url;
    };
    window.history.replaceState(null, "", update(window.location.href).toString());
    for (const other of document.querySelectorAll("table[data-sortable] th a.sort")) {
      if (other.closest("table") !== table) other.href = update(other.href).toString();
    }
  });
})();
