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
