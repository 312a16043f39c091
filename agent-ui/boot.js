// Starts the console. Kept out of index.html so the server's Content-Security-Policy can
// forbid inline scripts.
import init from "./app.js";

init().catch(() => {
  const p = document.createElement("p");
  p.className = "boot-error";
  p.textContent =
    "The console could not start. Reload the page; if that does not help, ask your administrator.";
  document.body.append(p);
});
