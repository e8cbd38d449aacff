// The officials' call console: while on duty, ask for an offered call every 3 s and show it.
// The server sends the words (a queue entry's state, how long it has waited) in the page's
// language.
const offer = document.getElementById("offer");

async function poll() {
  try {
    const response = await fetch("/console/calls/offer.json", { headers: { Accept: "application/json" } });
    if (response.ok) {
      const data = await response.json();
      const rows = document.getElementById("queue-rows");
      rows.replaceChildren(
        ...data.queue.map((row) => {
          const tr = document.createElement("tr");
          for (const value of [row.who, row.status_text, row.waited_text]) {
            const td = document.createElement("td");
            td.textContent = value;
            tr.append(td);
          }
          return tr;
        }),
      );
      if (data.offer) {
        document.getElementById("offer-who").textContent = `${data.offer.who} · ${data.offer.waited_text}`;
        document.getElementById("offer-form").action = `/console/calls/${data.offer.id}/accept`;
        offer.hidden = false;
      } else {
        offer.hidden = true;
      }
    }
  } catch (error) {
    // Retried on the next tick.
  }
  setTimeout(poll, 3000);
}
if (offer.dataset.poll === "1") poll();
