// The contacts pages: a thread shows letters that arrive while it is open (it polls its own
// JSON while the tab is visible: a second live socket would replace the chat tab's), and the
// contacts page offers web push when the site has VAPID keys.

const thread = document.getElementById("thread");
if (thread) {
  const list = document.getElementById("letters");
  const handle = thread.querySelector("h1 span").textContent;
  const shown = new Set([...list.querySelectorAll("[data-letter]")].map((li) => li.dataset.letter));

  const render = (letter) => {
    const li = document.createElement("li");
    li.className = `line ${letter.from === "me" ? "mine" : "theirs"}${letter.filtered ? " filtered" : ""}`;
    li.dataset.letter = letter.id;
    const text = document.createElement("span");
    text.className = "text";
    text.dir = "auto";
    text.textContent = letter.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    const who = letter.from === "me" ? "You" : handle;
    meta.textContent = `${who} · ${letter.ts.slice(0, 10)} ${letter.ts.slice(11, 16)}${letter.filtered ? " · filtered" : ""}`;
    li.append(text, meta);
    return li;
  };

  const poll = async () => {
    if (document.visibilityState !== "visible") return;
    let body;
    try {
      const response = await fetch(thread.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 404) {
        window.location.assign("/contacts/");
        return;
      }
      body = await response.json();
    } catch {
      return;
    }
    for (const letter of body.letters || []) {
      if (shown.has(letter.id)) continue;
      shown.add(letter.id);
      document.getElementById("no-letters")?.remove();
      list.append(render(letter));
      list.scrollTop = list.scrollHeight;
    }
  };
  list.scrollTop = list.scrollHeight;
  const seconds = Number(thread.dataset.poll) || 0;
  if (seconds > 0) setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", poll);
}

const pushBox = document.getElementById("push");
if (pushBox && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window) {
  const state = document.getElementById("push-state");
  const button = document.getElementById("push-allow");
  const csrf = () => document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
  const keyBytes = (base64) => {
    const padded = (base64 + "=".repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  pushBox.hidden = false;
  if (Notification.permission === "granted") state.textContent = "Notifications are on in this browser.";
  button.addEventListener("click", async () => {
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        state.textContent = "Notifications are blocked in this browser.";
        return;
      }
      const registration = await navigator.serviceWorker.register(pushBox.dataset.sw);
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: keyBytes(pushBox.dataset.key) });
      const response = await fetch(pushBox.dataset.subscribe, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(subscription.toJSON()) });
      state.textContent = response.ok ? "Notifications are on in this browser." : "Could not turn notifications on.";
    } catch {
      state.textContent = "Could not turn notifications on.";
    }
  });
}
