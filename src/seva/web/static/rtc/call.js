// One call page for citizens and officials. Signalling goes over /rtc/ws (see
// seva/rtc/signalling.py for the messages); media and files go browser to browser: one
// RTCPeerConnection per other participant (a mesh, fine for a 1:1 call and a few more), each
// with a pre-negotiated data channel (id 0) that carries files in 16 KiB chunks.
//
// File transfer: the sender announces {kind: "file", no, name, size, type, sha256}; the
// receiver answers {kind: "resume", no, offset} with how much it already holds (0 for a new
// file, more after a reconnect), the sender streams from there, and the receiver checks the
// SHA-256 of the whole file. A citizen's page then hands the file to Seva, which keeps it in
// the citizen's locker after checking the same hash, and tells the sender it was saved.
//
// Meetings through Janus: when Seva's "welcome" carries an "sfu" block, media goes through
// the SFU instead (sfu.js) and the tiles follow Janus's feeds; signalling, chat and the
// moderator's controls stay on /rtc/ws. No file transfer there: files are for 1:1 calls.
//
// Words: every text this page writes comes from Seva's message catalog in the reader's
// language, handed over in data-config ("words": key -> text, see CALL_PAGE_WORDS in
// seva/rtc/router.py); say() fills in the same {placeholders} the catalog uses.

import { JanusRoom } from "./sfu.js";

const root = document.getElementById("call");
const config = JSON.parse(root.dataset.config);
const CHUNK = 16 * 1024;
const HEADER = 8; // u32 file number, u32 offset
const TYPES = ["application/pdf", "image/jpeg", "image/png"];
const MB = 1024 * 1024;
const words = config.words || {};

// A message in the page's language with its {placeholders} filled in; a key the page was not
// given reads as itself, so a gap shows up rather than an empty line.
function say(key, values = {}) {
  const found = Object.hasOwn(words, key) ? words[key] : key;
  return found.replace(/\{([a-z_][a-z0-9_]*)\}/g, (field, name) => (Object.hasOwn(values, name) ? String(values[name]) : field));
}

// What went wrong, as a reader sees it: a message that is already a sentence of the catalog
// (sfu.js marks its own), or the browser's technical one inside a sentence of ours.
function problem(error) {
  if (error && error.said) return error.message;
  return say("room_problem", { reason: (error && error.message) || String(error) });
}

// Why the signalling socket closed, by its close code (seva/rtc/signalling.py, router.py,
// relay.py: 1012 when the server holding the call stopped or it moved, 1013 when that server
// could not be reached); anything else names the code or the server's reason in a sentence.
const CLOSED = {
  1006: "room_closed_lost",
  1012: "room_closed_lost",
  1013: "room_closed_lost",
  4001: "room_closed_replaced",
  4003: "room_closed_removed",
  4009: "room_closed_full",
  4401: "room_closed_expired",
  4403: "room_closed_not_invited",
};

// What the signalling refused, by its error code.
const REFUSED = {
  in_lobby: "room_refused_lobby",
  not_allowed: "room_refused_not_allowed",
  unknown_peer: "room_refused_gone",
};

const peers = new Map(); // peer id -> {id, name, pc, channel, videoSender, pending, video}
const outgoing = new Map(); // file number -> {meta, bytes, sending}
const incoming = new Map(); // file number -> {meta, buffer, received, done}
const log = { sent: [], received: [], saved: [], recordings: [] };
let localStream = new MediaStream();
let cameraTrack = null;
let screenTrack = null;
let socket = null;
let me = null;
let role = config.role;
let nextFile = 1;
let sfu = null; // a JanusRoom when the meeting goes through Janus
const members = new Map(); // peer id -> name, for SFU tiles (Janus's display is the peer id)

const $ = (id) => document.getElementById(id);
const setStatus = (text) => { $("call-status").textContent = text; };
const setFileStatus = (text) => { $("file-status").textContent = text; };

function signal(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

async function start() {
  try {
    localStream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (error) {
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (again) {
      setStatus(say("room_no_devices"));
    }
  }
  cameraTrack = localStream.getVideoTracks()[0] || null;
  $("local").srcObject = localStream;
  connect();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = `token=${encodeURIComponent(config.token)}&room=${encodeURIComponent(config.room)}`;
  socket = new WebSocket(`${scheme}://${location.host}/rtc/ws?${query}`);
  socket.onmessage = (event) => handle(JSON.parse(event.data)).catch((error) => setStatus(problem(error)));
  socket.onclose = (event) => {
    window.sevaCall.closed = { code: event.code, reason: event.reason };
    if (event.code === 1000) return;
    const key = CLOSED[event.code];
    setStatus(key ? say(key) : say("room_closed", { reason: event.reason || event.code }));
  };
  setInterval(() => signal({ type: "ping" }), 25000);
}

async function handle(message) {
  switch (message.type) {
    case "welcome":
      me = message.you;
      role = message.role;
      $("lobby").hidden = true;
      setStatus(say(message.peers.length ? "room_connecting" : "room_waiting_other"));
      for (const peer of message.peers) members.set(peer.id, peer.name);
      if (message.sfu) await joinSfu(message.sfu);
      else {
        if (message.notice) setStatus(say("room_no_sfu"));
        for (const peer of message.peers) await offerTo(peer.id, peer.name);
      }
      break;
    case "lobby":
      setStatus(say("room_waiting_host"));
      break;
    case "waiting":
      showLobby(message.peers);
      break;
    case "peer-joined":
      members.set(message.peer.id, message.peer.name);
      if (!sfu) ensurePeer(message.peer.id, message.peer.name);
      setStatus(say("room_joined", { name: message.peer.name }));
      break;
    case "peer-left":
      dropPeer(message.peer);
      break;
    case "offer": {
      const peer = ensurePeer(message.from, "");
      await peer.pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await flushCandidates(peer);
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      signal({ type: "answer", to: message.from, sdp: peer.pc.localDescription.sdp });
      break;
    }
    case "answer": {
      const peer = peers.get(message.from);
      if (peer) {
        await peer.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        await flushCandidates(peer);
      }
      break;
    }
    case "candidate": {
      const peer = peers.get(message.from);
      if (!peer) break;
      if (peer.pc.remoteDescription) await addCandidate(peer, message.candidate);
      else peer.pending.push(message.candidate);
      break;
    }
    case "chat":
      addChat(message.name, message.text);
      break;
    case "state": {
      const peer = peers.get(message.peer);
      if (peer) peer.video.title = message.state.screen ? say("room_screen_of", { name: peer.name }) : peer.name;
      break;
    }
    case "recording":
      onRecording(message);
      break;
    case "mute-request":
      setMuted(true);
      setStatus(say("room_muted_by", { name: message.by }));
      break;
    case "error":
      setStatus(REFUSED[message.code] ? say(REFUSED[message.code]) : say("room_refused", { reason: message.code }));
      break;
    default:
      break;
  }
}

function makeTile(id, name) {
  const tile = document.createElement("figure");
  tile.className = "tile";
  tile.dataset.peer = id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.title = name;
  const caption = document.createElement("figcaption");
  caption.textContent = name;
  tile.append(video, caption);
  if (role === "moderator") {
    for (const [label, type] of [[say("room_mute"), "mute"], [say("room_remove"), "remove"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = label;
      button.dataset.action = type;
      button.onclick = () => signal({ type, peer: id });
      caption.append(" ", button);
    }
  }
  $("remotes").append(tile);
  return { tile, video };
}

function ensurePeer(id, name) {
  let peer = peers.get(id);
  if (peer) {
    if (name && !peer.name) {
      peer.name = name;
      peer.tile.querySelector("figcaption").firstChild.textContent = name;
    }
    return peer;
  }
  const pc = new RTCPeerConnection({ iceServers: config.iceServers });
  const channel = pc.createDataChannel("files", { negotiated: true, id: 0, ordered: true });
  channel.binaryType = "arraybuffer";
  channel.bufferedAmountLowThreshold = 256 * 1024;
  const { tile, video } = makeTile(id, name);
  peer = { id, name, pc, channel, video, tile, pending: [], videoSender: null };
  peers.set(id, peer);
  for (const track of localStream.getAudioTracks()) pc.addTrack(track, localStream);
  if (cameraTrack) {
    peer.videoSender = pc.addTrack(screenTrack || cameraTrack, localStream);
  } else {
    peer.videoSender = pc.addTransceiver("video", { direction: "sendrecv" }).sender;
  }
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  pc.onicecandidate = (event) => {
    signal({ type: "candidate", to: id, candidate: event.candidate ? event.candidate.toJSON() : null });
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") {
      setStatus(peer.name ? say("room_connected_with", { name: peer.name }) : say("room_connected"));
      window.sevaCall.timing.connected ??= performance.timeOrigin + performance.now();
    }
    if (pc.connectionState === "failed") pc.restartIce();
  };
  channel.onopen = () => announceFiles(peer);
  channel.onmessage = (event) => onChannel(peer, event.data).catch((error) => setFileStatus(problem(error)));
  return peer;
}

async function joinSfu(block) {
  sfu = new JanusRoom(block, {
    iceServers: config.iceServers,
    display: me,
    say,
    onStatus: setStatus,
    onProblem: (error) => setStatus(problem(error)),
    onTrack(id, stream, pc) {
      let peer = peers.get(id);
      if (!peer) {
        const name = members.get(id) || "";
        const { tile, video } = makeTile(id, name);
        peer = { id, name, pc, video, tile, videoSender: null };
        peers.set(id, peer);
      }
      peer.pc = pc;
      peer.video.srcObject = stream;
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "connected") {
          setStatus(say("room_connected_sfu"));
          window.sevaCall.timing.connected ??= performance.timeOrigin + performance.now();
        }
      };
    },
    onGone: (id) => dropPeer(id),
  });
  await sfu.start(localStream);
}

async function offerTo(id, name) {
  const peer = ensurePeer(id, name);
  await peer.pc.setLocalDescription(await peer.pc.createOffer());
  signal({ type: "offer", to: id, sdp: peer.pc.localDescription.sdp });
}

async function addCandidate(peer, candidate) {
  try {
    if (candidate) await peer.pc.addIceCandidate(candidate);
    else await peer.pc.addIceCandidate();
  } catch (error) {
    // A candidate for a transport that is gone; ICE carries on with the others.
  }
}

async function flushCandidates(peer) {
  const pending = peer.pending.splice(0);
  for (const candidate of pending) await addCandidate(peer, candidate);
}

function showLobby(waiting) {
  const list = $("lobby-list");
  list.replaceChildren(
    ...waiting.map((person) => {
      const item = document.createElement("li");
      const admit = document.createElement("button");
      admit.type = "button";
      admit.textContent = say("room_admit", { name: person.name });
      admit.dataset.admit = person.id;
      admit.onclick = () => signal({ type: "admit", peer: person.id });
      item.append(admit);
      return item;
    }),
  );
  $("lobby").hidden = waiting.length === 0;
}

function dropPeer(id) {
  const peer = peers.get(id);
  if (!peer) return;
  if (peer.pc) peer.pc.close();
  peer.tile.remove();
  peers.delete(id);
  setStatus(peer.name ? say("room_left", { name: peer.name }) : say("room_other_left"));
}

// -- controls -----------------------------------------------------------------------------

function setMuted(muted) {
  for (const track of localStream.getAudioTracks()) track.enabled = !muted;
  $("mute").setAttribute("aria-pressed", String(muted));
  signal({ type: "state", audio: !muted });
}

$("mute").onclick = () => setMuted($("mute").getAttribute("aria-pressed") !== "true");

$("camera").onclick = () => {
  const off = $("camera").getAttribute("aria-pressed") !== "true";
  if (cameraTrack) cameraTrack.enabled = !off;
  $("camera").setAttribute("aria-pressed", String(off));
  signal({ type: "state", video: !off });
};

// Audio only: stop sending video at all (not just black frames), for a weak connection.
$("audio-only").onclick = async () => {
  const on = $("audio-only").getAttribute("aria-pressed") !== "true";
  await replaceVideo(on ? null : screenTrack || cameraTrack);
  $("audio-only").setAttribute("aria-pressed", String(on));
  signal({ type: "state", video: !on });
};

async function replaceVideo(track) {
  if (sfu) await sfu.replaceVideo(track);
  for (const peer of peers.values()) if (peer.videoSender) await peer.videoSender.replaceTrack(track);
}

async function setVideoTrack(track) {
  await replaceVideo(track);
  $("local").srcObject = new MediaStream([...localStream.getAudioTracks(), ...(track ? [track] : [])]);
}

async function stopScreen() {
  if (!screenTrack) return;
  screenTrack.stop();
  screenTrack = null;
  await setVideoTrack(cameraTrack);
  $("screen").setAttribute("aria-pressed", "false");
  signal({ type: "state", screen: false });
}

$("screen").onclick = async () => {
  if (screenTrack) return stopScreen();
  try {
    const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    screenTrack = display.getVideoTracks()[0];
  } catch (error) {
    setStatus(say("room_screen_refused"));
    return undefined;
  }
  screenTrack.onended = stopScreen;
  await setVideoTrack(screenTrack);
  $("screen").setAttribute("aria-pressed", "true");
  signal({ type: "state", screen: true });
  return undefined;
};

$("chat-form").onsubmit = (event) => {
  event.preventDefault();
  const text = $("chat-text").value.trim();
  if (text) signal({ type: "chat", text });
  $("chat-text").value = "";
};

function addChat(name, text) {
  const item = document.createElement("li");
  const who = document.createElement("strong");
  who.textContent = `${name}: `;
  item.append(who, document.createTextNode(text));
  $("chat-log").append(item);
  item.scrollIntoView({ block: "nearest" });
}

// -- recording, only with both sides' consent ---------------------------------------------
//
// Either side asks (Record); the other sees the question and allows or declines. The hub
// starts recording only when both have said yes and stops it when either says no or leaves.
// The official's page records (the other side's video and both voices, mixed) and hands the
// WebM to Seva, which keeps it in the citizen's locker and the department's call records.

const recordingState = { on: false, consented: [], recorder: null, saving: null };

if (config.kind === "call") $("record").hidden = false;

$("record").onclick = () => {
  const mine = recordingState.on || recordingState.consented.includes(me);
  signal({ type: "record", consent: !mine });
};
$("record-allow").onclick = () => signal({ type: "record", consent: true });
$("record-decline").onclick = () => signal({ type: "record", consent: false });

function onRecording(message) {
  const wasOn = recordingState.on;
  recordingState.on = message.on;
  recordingState.consented = message.consented;
  const mine = message.consented.includes(me);
  $("record").setAttribute("aria-pressed", String(message.on || mine));
  $("record").textContent = say(message.on ? "room_record_stop" : mine ? "room_record_cancel" : "room_record");
  $("record-ask").hidden = message.on || mine || message.consented.length === 0;
  if (message.on) {
    $("record-status").textContent = say("room_record_on");
    if (!wasOn && role !== "citizen") startRecorder();
  } else {
    $("record-status").textContent = mine ? say("room_record_waiting") : "";
    if (wasOn && recordingState.recorder) recordingState.saving = stopRecorder();
  }
}

function startRecorder() {
  const peer = [...peers.values()][0];
  const remote = peer && peer.video.srcObject;
  const mixer = new AudioContext();
  const mix = mixer.createMediaStreamDestination();
  for (const stream of [localStream, remote]) {
    if (stream && stream.getAudioTracks().length) {
      mixer.createMediaStreamSource(new MediaStream(stream.getAudioTracks())).connect(mix);
    }
  }
  const video = remote ? remote.getVideoTracks()[0] : null;
  const tracks = [...mix.stream.getAudioTracks(), ...(video ? [video] : [])];
  const type = video ? "video/webm" : "audio/webm";
  const recorder = new MediaRecorder(new MediaStream(tracks), { mimeType: type });
  const chunks = [];
  recorder.ondataavailable = (event) => {
    if (event.data.size) chunks.push(event.data);
  };
  recordingState.recorder = { recorder, chunks, mixer, audioOnly: !video };
  recorder.start(1000);
}

async function stopRecorder() {
  const { recorder, chunks, mixer, audioOnly } = recordingState.recorder;
  recordingState.recorder = null;
  await new Promise((resolve) => {
    recorder.onstop = resolve;
    recorder.stop();
  });
  mixer.close();
  const blob = new Blob(chunks, { type: audioOnly ? "audio/webm" : "video/webm" });
  const form = new FormData();
  form.append("token", config.token);
  form.append("audio_only", audioOnly ? "true" : "false");
  form.append("file", blob, "recording.webm");
  $("record-status").textContent = say("room_record_saving");
  const response = await fetch(config.recordingUrl, { method: "POST", body: form });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 201) {
    log.recordings.push(answer);
    $("record-status").textContent = say("room_record_saved");
  } else {
    const reason = answer.error ? answer.error.message : response.status;
    $("record-status").textContent = say("room_record_failed", { reason });
  }
}

// Leaving while recording: hand the recording in first.
$("hangup").onclick = async (event) => {
  if (!recordingState.recorder && !recordingState.saving) return;
  event.preventDefault();
  if (recordingState.recorder) recordingState.saving = stopRecorder();
  await recordingState.saving;
  location.href = $("hangup").href;
};

// -- files --------------------------------------------------------------------------------

async function sha256(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

$("file").onchange = async () => {
  const file = $("file").files[0];
  $("file").value = "";
  if (!file) return;
  if (!TYPES.includes(file.type)) return setFileStatus(say("room_file_types"));
  if (file.size > config.maxFileBytes) return setFileStatus(say("room_file_too_big", { mb: config.maxFileBytes / MB }));
  const bytes = await file.arrayBuffer();
  const meta = { kind: "file", no: nextFile++, name: file.name, size: bytes.byteLength, type: file.type };
  meta.sha256 = await sha256(bytes);
  outgoing.set(meta.no, { meta, bytes, sending: false });
  log.sent.push({ name: meta.name, size: meta.size, sha256: meta.sha256, state: "offered" });
  setFileStatus(say("room_file_sending", { name: meta.name }));
  for (const peer of peers.values()) if (peer.channel && peer.channel.readyState === "open") peer.channel.send(JSON.stringify(meta));
  return undefined;
};

function announceFiles(peer) {
  // On a new or re-opened channel: offer again what is not confirmed yet (the receiver says
  // how much it already has, so an interrupted transfer resumes instead of restarting).
  for (const { meta } of outgoing.values()) peer.channel.send(JSON.stringify(meta));
}

async function sendFrom(peer, out, offset) {
  const { meta, bytes } = out;
  for (let at = offset; at < meta.size; at += CHUNK) {
    if (peer.channel.readyState !== "open") return;
    if (peer.channel.bufferedAmount > 1024 * 1024) {
      await new Promise((resolve) => {
        peer.channel.onbufferedamountlow = () => resolve();
      });
    }
    const end = Math.min(at + CHUNK, meta.size);
    const frame = new Uint8Array(HEADER + (end - at));
    const view = new DataView(frame.buffer);
    view.setUint32(0, meta.no);
    view.setUint32(4, at);
    frame.set(new Uint8Array(bytes, at, end - at), HEADER);
    peer.channel.send(frame.buffer);
  }
}

async function onChannel(peer, data) {
  if (typeof data !== "string") return receiveChunk(peer, data);
  const message = JSON.parse(data);
  if (message.kind === "file") {
    if (!Number.isInteger(message.size) || message.size > config.maxFileBytes || !TYPES.includes(message.type)) {
      peer.channel.send(JSON.stringify({ kind: "refused", no: message.no, reason: "type_or_size" }));
      return undefined;
    }
    let entry = incoming.get(message.no);
    if (!entry || entry.meta.sha256 !== message.sha256) {
      entry = { meta: message, buffer: new Uint8Array(message.size), received: 0, done: false };
      incoming.set(message.no, entry);
    }
    if (!entry.done) peer.channel.send(JSON.stringify({ kind: "resume", no: message.no, offset: entry.received }));
    setFileStatus(say("room_file_receiving", { name: message.name }));
  } else if (message.kind === "resume") {
    const out = outgoing.get(message.no);
    if (out) await sendFrom(peer, out, Math.max(0, Math.min(message.offset, out.meta.size)));
  } else if (message.kind === "saved" || message.kind === "received") {
    const out = outgoing.get(message.no);
    if (out) {
      outgoing.delete(message.no);
      const record = log.sent.find((item) => item.sha256 === out.meta.sha256);
      if (record) record.state = message.kind;
      setFileStatus(say(message.kind === "saved" ? "room_file_in_locker" : "room_file_delivered", { name: out.meta.name }));
    }
  } else if (message.kind === "refused") {
    setFileStatus(say("room_file_refused", { mb: config.maxFileBytes / MB }));
  } else if (message.kind === "corrupt") {
    const out = outgoing.get(message.no);
    if (out) {
      setFileStatus(say("room_file_corrupt", { name: out.meta.name }));
      await sendFrom(peer, out, 0);
    }
  }
  return undefined;
}

async function receiveChunk(peer, buffer) {
  const view = new DataView(buffer);
  const entry = incoming.get(view.getUint32(0));
  const offset = view.getUint32(4);
  if (!entry || entry.done) return;
  const chunk = new Uint8Array(buffer, HEADER);
  if (offset !== entry.received || offset + chunk.length > entry.meta.size) return;
  entry.buffer.set(chunk, offset);
  entry.received += chunk.length;
  if (entry.received < entry.meta.size) return;
  const digest = await sha256(entry.buffer);
  if (digest !== entry.meta.sha256) {
    entry.received = 0;
    peer.channel.send(JSON.stringify({ kind: "corrupt", no: entry.meta.no }));
    return;
  }
  entry.done = true;
  log.received.push({ name: entry.meta.name, size: entry.meta.size, sha256: digest });
  if (config.role !== "citizen") {
    peer.channel.send(JSON.stringify({ kind: "received", no: entry.meta.no }));
    setFileStatus(say("room_file_received", { name: entry.meta.name }));
    return;
  }
  const form = new FormData();
  form.append("token", config.token);
  form.append("sha256", digest);
  form.append("sender", peer.name || "");
  form.append("file", new Blob([entry.buffer], { type: entry.meta.type }), entry.meta.name);
  const response = await fetch(config.receivedUrl, { method: "POST", body: form });
  if (response.status === 201) {
    const saved = await response.json();
    log.saved.push(saved);
    peer.channel.send(JSON.stringify({ kind: "saved", no: entry.meta.no }));
    setFileStatus(say("room_file_saved", { name: entry.meta.name }));
  } else {
    const answer = await response.json().catch(() => ({}));
    const reason = answer.error ? answer.error.message : response.status;
    setFileStatus(say("room_file_not_kept", { name: entry.meta.name, reason }));
  }
}

// For the browser tests and for anyone debugging a call from the console.
window.sevaCall = {
  peers,
  files: log,
  closed: null,
  // Wall-clock milliseconds: the page's navigation start (the click that joined the call) and
  // the first peer connection to reach "connected" (bench/rtc_calls.py reads these).
  timing: { joined: performance.timeOrigin, connected: null },
  get me() {
    return me;
  },
  get mode() {
    return sfu ? "sfu" : "mesh";
  },
  recording: recordingState,
  get sfu() {
    return sfu;
  },
  videoTrackLabels() {
    if (sfu) return [sfu.videoSender && sfu.videoSender.track ? sfu.videoSender.track.label : null];
    return [...peers.values()].map((peer) => (peer.videoSender.track ? peer.videoSender.track.label : null));
  },
  // The addresses media comes from: the other browsers in a mesh, Janus through the SFU.
  async remoteAddresses() {
    const found = new Set();
    for (const peer of peers.values()) {
      if (!peer.pc) continue;
      const stats = await peer.pc.getStats();
      const pairs = [];
      stats.forEach((report) => {
        if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") pairs.push(report);
      });
      for (const pair of pairs) {
        const remote = stats.get(pair.remoteCandidateId);
        if (remote) found.add(remote.address || remote.ip);
      }
    }
    return [...found];
  },
  async inboundAudioPackets() {
    const byPeer = {};
    for (const peer of peers.values()) {
      if (!peer.pc) continue;
      const stats = await peer.pc.getStats();
      stats.forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "audio") byPeer[peer.id] = (byPeer[peer.id] || 0) + (report.packetsReceived || 0);
      });
    }
    return byPeer;
  },
  async inboundVideoFrames() {
    let frames = 0;
    for (const peer of peers.values()) {
      if (!peer.pc) continue;
      const stats = await peer.pc.getStats();
      stats.forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded || 0;
      });
    }
    return frames;
  },
};

start();
