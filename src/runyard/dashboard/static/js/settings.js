// Settings: ask before a destructive form (delete, disable, revoke) is sent. The server needs no
// confirmation (a script-less client still works); this only guards against a slip of the mouse.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
