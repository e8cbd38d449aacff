// Phone simulator, enhanced: send SMS and key USSD input without reloading the page, and poll
// the inbox so a code sent by the kiosk or the portal shows up by itself. Every form still
// works without this script (the server answers each POST with a redirect to /sim).

const POLL_MS = 3000;

async function post(form) {
  const response = await fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function bubble(direction, who, text, id) {
  const item = document.createElement("li");
  item.className = `bubble ${direction}`;
  if (id !== undefined) item.dataset.id = String(id);
  const label = document.createElement("span");
  label.className = "who";
  label.textContent = who;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text; // never innerHTML: replies may echo what anyone typed
  item.append(label, body);
  return item;
}

function dropPlaceholder(list) {
  list.querySelector(".empty")?.remove();
}

function enhance(form, handler) {
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    try {
      await handler(form);
    } catch (error) {
      form.submit(); // the plain form post still works
    } finally {
      delete form.dataset.busy;
    }
  });
}

function setupSms() {
  const thread = document.getElementById("thread");
  const form = document.getElementById("sms-form");
  if (!thread || !form) return;
  const input = form.querySelector("input[name=text]");
  const you = thread.dataset.you;
  const code = thread.dataset.code;
  thread.scrollTop = thread.scrollHeight;
  enhance(form, async () => {
    const data = await post(form);
    dropPlaceholder(thread);
    thread.append(bubble("out", `${you} · ${data.sent.at}`, data.sent.text));
    thread.append(bubble("in", `${code} · ${data.reply.at}`, data.reply.text));
    thread.scrollTop = thread.scrollHeight;
    input.value = "";
    input.focus();
  });
}

function setupUssd() {
  const screen = document.getElementById("ussd-screen");
  const dial = document.getElementById("dial-form");
  const reply = document.getElementById("ussd-form");
  const hangup = document.getElementById("hangup-form");
  if (!screen || !dial || !reply || !hangup) return;
  const value = reply.querySelector("input[name=value]");
  const kind = document.getElementById("ussd-kind");

  function show(data) {
    screen.textContent = data.screen || screen.dataset.idle;
    screen.classList.toggle("ended", Boolean(data.end));
    if (kind) {
      kind.hidden = !data.screen;
      kind.textContent = data.end ? "END" : "CON";
    }
    reply.hidden = Boolean(data.end);
    hangup.hidden = Boolean(data.end);
    if (!data.end) {
      value.value = "";
      value.focus();
    }
  }

  enhance(dial, async () => show(await post(dial)));
  enhance(reply, async () => show(await post(reply)));
  enhance(hangup, async () => show(await post(hangup)));
}

function setupInbox() {
  const section = document.getElementById("inbox");
  const list = document.getElementById("inbox-list");
  if (!section || !list) return;
  let lastId = Number(section.dataset.lastId || "0");

  async function poll() {
    if (document.hidden) return;
    try {
      const response = await fetch(`/sim/inbox?after=${lastId}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) return;
      const data = await response.json();
      for (const message of data.messages) {
        if (message.id <= lastId) continue;
        dropPlaceholder(list);
        const who = `${message.sender} · ${message.at} · ${message.kind}`;
        list.prepend(bubble("in", who, message.text, message.id));
        lastId = message.id;
      }
      section.dataset.lastId = String(lastId);
    } catch (error) {
      // offline for a moment: the next poll tries again
    }
  }

  setInterval(poll, POLL_MS);
}

// A phone call: the prompt is shown and spoken (the gateway's own espeak-ng audio); keypad
// presses go to the same phone menu a SIP or TwiML call walks. A menu takes one key, other
// questions collect keys until #.
function setupCall() {
  const screen = document.getElementById("call-screen");
  const audio = document.getElementById("call-audio");
  const keypad = document.getElementById("call-keypad");
  const form = document.getElementById("call-form");
  const start = document.getElementById("call-start");
  const hangup = document.getElementById("call-hangup");
  if (!screen || !keypad || !form || !start || !hangup) return;
  let expected = null;
  let pressed = "";

  function show(prompt) {
    screen.textContent = prompt.text || screen.dataset.ended;
    screen.lang = prompt.lang || "en";
    screen.classList.toggle("ended", Boolean(prompt.end));
    keypad.hidden = Boolean(prompt.end);
    hangup.hidden = Boolean(prompt.end);
    expected = prompt.num_digits;
    pressed = "";
    if (prompt.audio && audio) {
      audio.src = prompt.audio;
      audio.play().catch(() => {}); // autoplay may be refused: the text is on the screen
    }
    window.sevaSim = { prompt, pressed };
  }

  async function send(keys, fresh) {
    const body = new FormData(fresh ? start : form);
    if (!fresh) body.set("keys", keys);
    const response = await fetch("/sim/call", {
      method: "POST",
      body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    show(await response.json());
  }

  enhance(start, () => send("", true));
  enhance(form, async () => {
    const input = document.getElementById("call-keys");
    await send(input.value, false);
    input.value = "";
  });
  enhance(hangup, async (which) => {
    await post(which);
    if (audio) audio.pause();
    show({ text: "", end: true });
  });
  keypad.addEventListener("click", (event) => {
    const key = event.target.dataset && event.target.dataset.key;
    if (!key) return;
    if (audio) audio.pause(); // a key cuts the prompt short, as on a phone
    if (key === "#") {
      send(pressed, false);
      return;
    }
    pressed += key;
    if (window.sevaSim) window.sevaSim.pressed = pressed;
    if (expected && pressed.length >= expected) send(pressed, false);
    else if (pressed === "*" && expected) send(pressed, false);
  });
}

setupSms();
setupUssd();
setupInbox();
setupCall();
