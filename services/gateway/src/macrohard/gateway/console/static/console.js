// A running task: every event appended to it (SSE, the API's own stream) re-renders the
// task's body from the server, so the page shows exactly what a reload would.
(function () {
  const body = document.getElementById("task-body");
  if (!body || !body.dataset.live || !window.EventSource) return;
  const source = new EventSource(body.dataset.live);
  let pending = null;
  const refresh = () => {
    pending = null;
    htmx.ajax("GET", body.dataset.body, { target: "#task-body", swap: "innerHTML" });
  };
  const soon = () => { if (!pending) pending = setTimeout(refresh, 150); };
  source.onmessage = soon;
  for (const type of ["TaskStarted", "IntentEmitted", "InferenceCompleted", "ActionExecuted",
                      "PageObserved", "SessionOpened", "TaskCancelRequested"]) {
    source.addEventListener(type, soon);
  }
  for (const type of ["TaskCompleted", "TaskFailed", "TaskCancelled"]) {
    source.addEventListener(type, () => { source.close(); refresh(); });
  }
})();
