// Service worker for web push: shows "New letter from …" or an invitation, never any text a
// person wrote (the server does not send it), and opens the page the notice points to.
self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch {
    notice = {};
  }
  const title = typeof notice.title === "string" ? notice.title : "Strangers";
  const url = typeof notice.url === "string" && notice.url.startsWith("/") ? notice.url : "/contacts/";
  event.waitUntil(self.registration.showNotification(title, { tag: notice.tag, data: { url } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/contacts/", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url === url);
    if (open) return open.focus();
    return self.clients.openWindow(url);
  })());
});
