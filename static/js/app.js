// Small behaviours every page may use. No inline script anywhere (the CSP forbids it).
document.addEventListener("click", (event) => {
  if (event.target.closest(".print-button")) window.print();
});
