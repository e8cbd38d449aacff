// Phone simulator, enhanced: send SMS and key USSD input without reloading the page, and poll
// the inbox so a code sent by the kiosk or the portal shows up by itself and each message's
// delivery status changes as receipts arrive. Every form still works without this script (the
// server answers each POST with a redirect to /sim). Times come from the server already
// written in IST.

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

// The delivery status line of an inbox message: the server sends the words, in the page's
// language, with the status code for the colour.
function showDelivery(item, status, text) {
  let line = item.querySelector(".delivery");
  if (!line) {
    line = document.createElement("span");
    item.append(line);
  }
  line.className = `delivery sms-${status}`;
  line.dataset.status = status;
  line.textContent = text;
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
        const who = `${message.sender} · ${message.at} · ${message.kind_text}`;
        const item = bubble("in", who, message.text, message.id);
        showDelivery(item, message.status, message.status_text);
        list.prepend(item);
        lastId = message.id;
      }
      for (const shown of data.statuses || []) {
        const item = list.querySelector(`li[data-id="${shown.id}"]`);
        const line = item && item.querySelector(".delivery");
        if (item && (!line || line.dataset.status !== shown.status)) {
          showDelivery(item, shown.status, shown.status_text);
        }
      }
      section.dataset.lastId = String(lastId);
    } catch (error) {
      // offline for a moment: the next poll tries again
    }
  }

  setInterval(poll, POLL_MS);
}

// A caller's spoken answer, the form a phone line carries it in: 8 kHz, mono, 16-bit PCM.
const PHONE_RATE = 8000;
const BEEP_HZ = 1000;
const BEEP_SECONDS = 0.25;
const CAPTURE_FRAMES = 4096;

function wavOf(samples, rate) {
  const bytes = samples.length * 2;
  const view = new DataView(new ArrayBuffer(44 + bytes));
  const ascii = (offset, text) => {
    for (let i = 0; i < text.length; i += 1) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + bytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true); // the size of the format chunk
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes a second
  view.setUint16(32, 2, true); // bytes a frame
  view.setUint16(34, 16, true); // bits a sample
  ascii(36, "data");
  view.setUint32(40, bytes, true);
  for (let i = 0; i < samples.length; i += 1) {
    const sample = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, sample < 0 ? sample * 0x8000 : sample * 0x7fff, true);
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}

async function atPhoneRate(samples, rate) {
  const length = Math.floor((samples.length * PHONE_RATE) / rate);
  if (rate === PHONE_RATE || length === 0) return samples.subarray(0, length);
  try {
    // The browser's own resampler filters out what 8 kHz cannot carry.
    const offline = new OfflineAudioContext(1, length, PHONE_RATE);
    const buffer = offline.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    const source = offline.createBufferSource();
    source.buffer = buffer;
    source.connect(offline.destination);
    source.start();
    return (await offline.startRendering()).getChannelData(0);
  } catch (error) {
    // No offline rendering at 8 kHz here: average each output sample's span of input.
    const out = new Float32Array(length);
    const step = rate / PHONE_RATE;
    for (let i = 0; i < length; i += 1) {
      const from = Math.floor(i * step);
      const to = Math.min(samples.length, Math.max(from + 1, Math.floor((i + 1) * step)));
      let sum = 0;
      for (let j = from; j < to; j += 1) sum += samples[j];
      out[i] = sum / (to - from);
    }
    return out;
  }
}

function beep(context) {
  const tone = context.createOscillator();
  const level = context.createGain();
  tone.frequency.value = BEEP_HZ;
  level.gain.value = 0.2;
  tone.connect(level).connect(context.destination);
  return new Promise((resolve) => {
    tone.onended = () => {
      level.disconnect();
      resolve();
    };
    tone.start();
    tone.stop(context.currentTime + BEEP_SECONDS);
  });
}

// The microphone for a message question: after the prompt has played, a beep, then the
// microphone through an AudioContext (a ScriptProcessorNode: a worklet would need a module
// of its own) until # or Stop or the question's limit; sent as a WAV. Without a microphone
// the caller keys the message as letters, as on a phone that cannot record.
function voiceRecorder({ status, controls, clock, speak, stop, csrf, onPrompt }) {
  const texts = status.dataset;
  let state = "idle"; // idle, armed, recording, sending, unavailable
  let limit = 0;
  let turn = 0; // a new prompt or a cancel makes any step still under way stale
  let opening = null; // the microphone, asked for once a prompt
  let starting = null; // the turn whose beep is on its way
  let context = null;
  let graph = [];
  let chunks = [];
  let collected = 0;
  let ticker = null;

  // ``focus``: a focused button that this hides hands the focus on rather than dropping it.
  function enter(next, text, focus) {
    const handOn = focus && focus.to && document.activeElement === focus.from;
    state = next;
    if (text !== undefined) status.textContent = text;
    controls.hidden = !["armed", "recording", "sending"].includes(next);
    speak.hidden = next !== "armed";
    stop.hidden = next !== "recording";
    clock.hidden = !["recording", "sending"].includes(next);
    if (window.sevaSim) window.sevaSim.recording = next;
    if (handOn) focus.to.focus();
  }

  function release() {
    clearInterval(ticker);
    ticker = null;
    for (const node of graph) node.disconnect();
    graph = [];
    // Also a microphone granted after the question moved on: the browser's indicator goes out.
    if (opening) opening.then((stream) => stream.getTracks().forEach((t) => t.stop()), () => {});
    opening = null;
  }

  function unavailable(error) {
    release();
    let reason = texts.unsupported;
    if (error && error.name === "NotAllowedError") reason = texts.denied;
    else if (error && error.message) reason = error.message;
    enter("unavailable", texts.noMic.replace("{reason}", reason));
  }

  function microphone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error(texts.unsupported));
    }
    if (!opening) opening = navigator.mediaDevices.getUserMedia({ audio: true });
    return opening;
  }

  function tick() {
    const seconds = context ? collected / context.sampleRate : 0;
    clock.textContent = texts.elapsed
      .replace("{seconds}", seconds.toFixed(1))
      .replace("{max}", String(limit));
  }

  async function begin() {
    if (state !== "armed") return;
    if (starting === turn) {
      // Already on its way, perhaps held until a click lets the page play sound: this is one.
      if (context) context.resume();
      return;
    }
    const mine = turn;
    starting = mine;
    try {
      const source = await microphone();
      context = context || new AudioContext();
      await context.resume();
      if (mine !== turn) return;
      await beep(context);
      if (mine !== turn) return;
      const input = context.createMediaStreamSource(source);
      const tap = context.createScriptProcessor(CAPTURE_FRAMES, 1, 1);
      const mute = context.createGain(); // a processor only runs when it leads somewhere
      mute.gain.value = 0;
      chunks = [];
      collected = 0;
      tap.onaudioprocess = (event) => {
        if (state !== "recording" || mine !== turn) return;
        const frames = event.inputBuffer.getChannelData(0);
        chunks.push(new Float32Array(frames)); // the buffer is reused for the next block
        collected += frames.length;
        if (collected >= limit * context.sampleRate) finish();
      };
      input.connect(tap);
      tap.connect(mute).connect(context.destination);
      graph = [input, tap, mute];
    } catch (error) {
      if (mine === turn) unavailable(error);
      return;
    } finally {
      if (starting === mine) starting = null;
    }
    enter("recording", texts.recording, { from: speak, to: stop });
    tick();
    ticker = setInterval(tick, 200);
  }

  async function finish() {
    if (state !== "recording") return;
    const mine = turn;
    const rate = context.sampleRate;
    tick();
    release();
    enter("sending", texts.sending, { from: stop, to: document.getElementById("call-keys") });
    const all = new Float32Array(Math.min(collected, limit * rate));
    let offset = 0;
    for (const chunk of chunks) {
      const part = chunk.subarray(0, all.length - offset);
      all.set(part, offset);
      offset += part.length;
    }
    chunks = [];
    let reply;
    try {
      const body = new FormData();
      body.set("csrf", csrf);
      body.set("file", wavOf(await atPhoneRate(all, rate), PHONE_RATE), "answer.wav");
      const response = await fetch("/sim/call/recording", {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      reply = await response.json().catch(() => ({}));
      if (!response.ok) {
        const reason = (reply.error && reply.error.message) || `HTTP ${response.status}`;
        throw Object.assign(new Error(reason), { status: response.status });
      }
    } catch (error) {
      if (mine !== turn) return;
      const text = texts.failed.replace("{reason}", error.message);
      enter(error.status === 409 ? "idle" : "armed", text); // speak again, or key it
      return;
    }
    if (mine === turn) onPrompt(reply);
  }

  return {
    get state() {
      return state;
    },
    // A prompt asked for the caller's words: ask for the microphone while it plays, so a
    // permission question does not come after the beep.
    arm(seconds, now) {
      turn += 1;
      starting = null;
      release();
      limit = seconds;
      enter("armed", texts.listen);
      if (!now) return;
      const mine = turn;
      microphone().catch((error) => {
        if (mine === turn) unavailable(error);
      });
    },
    begin,
    finish,
    cancel() {
      turn += 1;
      starting = null;
      release();
      if (state !== "idle") enter("idle", "");
    },
  };
}

// A phone call: the prompt is shown and spoken (the gateway's own espeak-ng audio); keypad
// presses go to the same phone menu a SIP or TwiML call walks. A menu takes one key, other
// questions collect keys until #; a message question records the caller's voice.
function setupCall() {
  const screen = document.getElementById("call-screen");
  const audio = document.getElementById("call-audio");
  const keypad = document.getElementById("call-keypad");
  const form = document.getElementById("call-form");
  const start = document.getElementById("call-start");
  const hangup = document.getElementById("call-hangup");
  const status = document.getElementById("call-record-status");
  const controls = document.getElementById("call-record");
  const clock = document.getElementById("call-record-time");
  const speak = document.getElementById("call-record-start");
  const stop = document.getElementById("call-record-stop");
  if (!screen || !keypad || !form || !start || !hangup) return;
  if (!status || !controls || !clock || !speak || !stop) return;
  let expected = null;
  let pressed = "";

  const recorder = voiceRecorder({
    status,
    controls,
    clock,
    speak,
    stop,
    csrf: form.querySelector("input[name=csrf]").value,
    onPrompt: (prompt) => show(prompt),
  });

  function show(prompt) {
    recorder.cancel();
    screen.textContent = prompt.text || screen.dataset.ended;
    screen.lang = prompt.lang || "en";
    screen.classList.toggle("ended", Boolean(prompt.end));
    keypad.hidden = Boolean(prompt.end);
    hangup.hidden = Boolean(prompt.end);
    expected = prompt.num_digits;
    pressed = "";
    window.sevaSim = { prompt, pressed, recording: "idle" };
    const record = !prompt.end && prompt.record_seconds;
    if (record) recorder.arm(prompt.record_seconds, true);
    if (prompt.audio && audio) {
      audio.src = prompt.audio;
      audio.play().catch(() => {}); // autoplay may be refused: the text is on the screen
    } else if (record) {
      recorder.begin();
    }
  }

  async function send(keys, fresh) {
    recorder.cancel(); // keys answer the question instead of the voice
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
    recorder.cancel();
    await post(which);
    if (audio) audio.pause();
    show({ text: "", end: true });
  });
  if (audio) {
    // The beep comes once the question has been heard, as on a phone.
    const heard = () => {
      if (recorder.state === "armed") recorder.begin();
    };
    audio.addEventListener("ended", heard);
    audio.addEventListener("error", heard);
  }
  speak.addEventListener("click", () => {
    if (audio) audio.pause();
    recorder.begin();
  });
  stop.addEventListener("click", () => recorder.finish());
  document.addEventListener("keydown", (event) => {
    if (event.key === "#" && recorder.state === "recording") {
      event.preventDefault();
      recorder.finish();
    }
  });
  keypad.addEventListener("click", (event) => {
    const key = event.target.dataset && event.target.dataset.key;
    if (!key) return;
    if (recorder.state === "recording" || recorder.state === "sending") {
      if (key === "#") recorder.finish(); // # ends the message, as on a phone
      return;
    }
    if (recorder.state === "armed") recorder.cancel(); // keying the message as letters
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
  // A reloaded page that was asked for a recording: no prompt plays, so the caller starts it.
  const asked = Number(screen.dataset.recordSeconds || "0");
  if (asked > 0) recorder.arm(asked, false);
}

setupSms();
setupUssd();
setupInbox();
setupCall();
