// The citizen's place in the "connect now" queue: asks every 3 s (which also tells the
// queue the page is still open) and moves to the call as soon as an official takes it.
const box = document.getElementById("queue");
const url = box.dataset.statusUrl;

async function poll() {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const view = await response.json();
      if (view.join) {
        document.getElementById("position").textContent = box.dataset.connecting;
        window.location.assign(view.join);
        return;
      }
      document.getElementById("position").textContent = view.position_text;
      document.getElementById("wait").textContent = view.wait_text;
      if (view.status !== "waiting" && view.status !== "offered") return;
    }
  } catch (error) {
    // A dropped request is retried on the next tick.
  }
  setTimeout(poll, 3000);
}
setTimeout(poll, 1000);
