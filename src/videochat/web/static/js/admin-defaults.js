// Runs before the Socket.IO Admin UI served at /admin/: its connection form starts filled in with
// this server (same origin, default path /socket.io, namespace /admin), so an operator types only the
// user name and password. The UI keeps these in localStorage; what an operator changed is left alone.
(() => {
  const defaults = { server_url: location.origin, path: "/socket.io", namespace: "/admin" };
  for (const [key, value] of Object.entries(defaults)) {
    if (!localStorage.getItem(key)) localStorage.setItem(key, value);
  }
})();
