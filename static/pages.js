// Behaviour shared by the plain pages, kept out of the HTML so that the Content-Security-Policy
// can forbid inline script: confirmations before deleting, and the export's progress.

// <form data-confirm="Delete …?">: asks before the form is sent.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
}, true);

// The export page polls its job until the zip is ready or failed.
const job = document.getElementById("export-job");
if (job && !["ready", "failed"].includes(job.dataset.status)) {
  const state = document.getElementById("export-state");
  const bar = document.getElementById("export-progress");
  const poll = async () => {
    let body;
    try {
      const response = await fetch(job.dataset.statusUrl, { credentials: "same-origin" });
      body = await response.json();
    } catch {
      setTimeout(poll, 3000);
      return;
    }
    bar.value = body.progress;
    if (body.status === "ready") {
      state.textContent = "Ready.";
      document.getElementById("export-download").href = body.download;
      document.getElementById("export-expires").textContent = body.expires_at;
      document.getElementById("export-link").hidden = false;
    } else if (body.status === "failed") {
      state.textContent = `The export failed: ${body.error || "unknown error"}`;
    } else {
      state.textContent = `Building your export… ${body.progress}%`;
      setTimeout(poll, 1000);
    }
  };
  poll();
}
