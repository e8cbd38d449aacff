// A meeting through the Janus SFU (VideoRoom plugin), spoken over Janus's WebSocket API
// (subprotocol "janus-protocol"). Seva's signalling still runs the room (who is admitted,
// chat, mute and remove); this module only carries media: one sendonly connection that
// publishes this page's audio and video, and one recvonly connection per other participant's
// feed. Everything it needs (room, feed id, token) comes from Seva's "welcome" message,
// issued after admission; see seva/rtc/janus.py. Its words come from the page (say, the
// call page's catalog texts); an error it raises is already such a sentence (said).

const KEEPALIVE_MS = 25000;

// An error whose message is a sentence for the reader, not the browser's English.
function said(text) {
  return Object.assign(new Error(text), { said: true });
}

export class JanusRoom {
  constructor(sfu, { iceServers, display, say, onTrack, onGone, onStatus, onProblem }) {
    this.sfu = sfu;
    this.say = say;
    this.iceServers = iceServers;
    this.display = display;
    this.onTrack = onTrack;
    this.onGone = onGone;
    this.onStatus = onStatus;
    this.onProblem = onProblem;
    this.pending = new Map(); // transaction -> {resolve, reject, final}
    this.handles = new Map(); // handle id -> {pc, feed}
    this.byFeed = new Map(); // remote feed id -> handle id
    this.next = 1;
    this.session = null;
    this.publisher = null;
    this.videoSender = null;
    this.closed = false;
  }

  send(body) {
    this.ws.send(JSON.stringify({ ...body, token: this.sfu.token }));
  }

  // A request and its answer. Plugin messages are answered twice (an "ack", then the
  // plugin's "event" or "success"); the promise waits for the one that counts.
  request(body) {
    const transaction = `t${this.next++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(transaction, { resolve, reject });
      this.send({ ...body, transaction, ...(this.session ? { session_id: this.session } : {}) });
    });
  }

  async message(handle, body, jsep) {
    const reply = await this.request({ janus: "message", handle_id: handle, body, ...(jsep ? { jsep } : {}) });
    const data = reply.plugindata ? reply.plugindata.data : {};
    if (data.error) throw said(this.say("room_sfu_refused", { reason: data.error }));
    return { data, jsep: reply.jsep };
  }

  async start(stream) {
    this.ws = new WebSocket(this.sfu.url, "janus-protocol");
    await new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(said(this.say("room_sfu_unreachable")));
    });
    this.ws.onmessage = (event) => this.dispatch(JSON.parse(event.data));
    this.ws.onclose = () => {
      if (!this.closed) this.onStatus(this.say("room_sfu_closed"));
    };
    this.session = (await this.request({ janus: "create" })).data.id;
    this.keepalive = setInterval(() => this.send({ janus: "keepalive", session_id: this.session, transaction: "k" }), KEEPALIVE_MS);
    this.publisher = await this.attach();
    const joined = await this.message(this.publisher, {
      request: "join",
      ptype: "publisher",
      room: this.sfu.room,
      id: this.sfu.feed,
      display: this.display,
      token: this.sfu.token,
    });
    await this.publish(stream);
    for (const feed of joined.data.publishers || []) await this.subscribe(feed);
  }

  async attach() {
    const reply = await this.request({ janus: "attach", plugin: "janus.plugin.videoroom" });
    return reply.data.id;
  }

  newConnection(handle) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    pc.onicecandidate = (event) => {
      const candidate = event.candidate ? event.candidate.toJSON() : { completed: true };
      this.send({ janus: "trickle", session_id: this.session, handle_id: handle, candidate, transaction: `c${this.next++}` });
    };
    return pc;
  }

  async publish(stream) {
    const pc = this.newConnection(this.publisher);
    this.handles.set(this.publisher, { pc, feed: this.sfu.feed });
    // Audio first, so the audio m-line's mid is "0": Seva's mute names that mid.
    const audio = stream.getAudioTracks()[0];
    if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
    else pc.addTransceiver("audio", { direction: "sendonly" });
    const video = stream.getVideoTracks()[0];
    this.videoSender = video
      ? pc.addTransceiver(video, { direction: "sendonly", streams: [stream] }).sender
      : pc.addTransceiver("video", { direction: "sendonly" }).sender;
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await this.message(this.publisher, { request: "publish" }, { type: "offer", sdp: pc.localDescription.sdp });
    await pc.setRemoteDescription(answer.jsep);
    this.publisherPc = pc;
  }

  async subscribe(feed) {
    if (feed.id === this.sfu.feed || this.byFeed.has(feed.id)) return;
    const handle = await this.attach();
    this.byFeed.set(feed.id, handle);
    const pc = this.newConnection(handle);
    this.handles.set(handle, { pc, feed: feed.id, display: feed.display });
    pc.ontrack = (event) => this.onTrack(feed.display, event.streams[0] || new MediaStream([event.track]), pc);
    const offer = await this.message(handle, {
      request: "join",
      ptype: "subscriber",
      room: this.sfu.room,
      streams: [{ feed: feed.id }],
      token: this.sfu.token,
    });
    await pc.setRemoteDescription(offer.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    await this.message(handle, { request: "start", room: this.sfu.room }, { type: "answer", sdp: pc.localDescription.sdp });
  }

  unsubscribe(feedId) {
    const handle = this.byFeed.get(feedId);
    if (handle === undefined) return;
    const entry = this.handles.get(handle);
    this.byFeed.delete(feedId);
    this.handles.delete(handle);
    if (entry) {
      entry.pc.close();
      this.onGone(entry.display);
    }
    this.send({ janus: "detach", session_id: this.session, handle_id: handle, transaction: `d${this.next++}` });
  }

  dispatch(message) {
    const waiting = message.transaction && this.pending.get(message.transaction);
    if (waiting && message.janus !== "ack") {
      this.pending.delete(message.transaction);
      if (message.janus === "error") waiting.reject(said(this.say("room_sfu_refused", { reason: message.error.reason })));
      else waiting.resolve(message);
      return;
    }
    if (message.janus === "trickle") {
      const entry = this.handles.get(message.sender);
      if (entry && message.candidate && !message.candidate.completed) entry.pc.addIceCandidate(message.candidate).catch(() => {});
      return;
    }
    if (message.janus !== "event" || !message.plugindata) return;
    const data = message.plugindata.data;
    if (message.sender === this.publisher) {
      for (const feed of data.publishers || []) this.subscribe(feed).catch((error) => this.onProblem(error));
      const gone = data.unpublished ?? data.leaving;
      if (gone !== undefined && gone !== "ok") this.unsubscribe(gone);
      if (data.leaving === "ok" && data.reason === "kicked") this.onStatus(this.say("room_sfu_removed"));
    }
  }

  async replaceVideo(track) {
    if (this.videoSender) await this.videoSender.replaceTrack(track);
  }

  subscriptions() {
    return [...this.handles.values()].filter((entry) => entry.feed !== this.sfu.feed);
  }

  close() {
    this.closed = true;
    clearInterval(this.keepalive);
    for (const entry of this.handles.values()) entry.pc.close();
    if (this.ws) this.ws.close();
  }
}
