// A running task: every event appended to it (SSE, the API's own stream) re-renders the
// task's body from the server, so the page shows exactly what a reload would. After the
// task's last event the stream closes, the body is rendered once more and marked final.
(function () {
  const body = document.getElementById("task-body");
  if (!body || !body.dataset.live || !window.EventSource) return;
  const source = new EventSource(body.dataset.live);
  let pending = null;
  const refresh = () => htmx.ajax("GET", body.dataset.body, { target: "#task-body", swap: "innerHTML" });
  const soon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
  };
  source.onmessage = soon;
  for (const type of ["TaskStarted", "IntentEmitted", "InferenceCompleted", "ActionExecuted",
                      "PageObserved", "SessionOpened", "SessionClosed", "TaskCancelRequested"]) {
    source.addEventListener(type, soon);
  }
  const finish = () => {
    source.close();
    clearTimeout(pending);
    pending = true; // no more refreshes after the final one
    refresh().then(() => { body.dataset.final = "1"; });
  };
  for (const type of ["TaskCompleted", "TaskFailed", "TaskCancelled"]) {
    source.addEventListener(type, finish);
  }
})();
