// Voice and video calls over WebRTC, signalled through the live socket's `signal` frames.
//
// The side with `initiator: true` makes every offer. Incoming signals are applied strictly one
// after another on a promise chain: applying a description is asynchronous, and a candidate
// applied before its remote description would be lost.

const CONNECT_TIMEOUT_MS = 30000;
const RESTART_TIMEOUT_MS = 15000;
const DISCONNECTED_GRACE_MS = 5000;

export const COULD_NOT_CONNECT = "Could not connect the call";

// What the browser's refusals mean to a person.
export function mediaErrorMessage(error, mode) {
  const what = mode === "video" ? "camera and microphone" : "microphone";
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return `You did not allow the ${what}. Allow it in your browser's address bar and press Start again, or choose Text.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return `No ${what} was found on this device. Plug one in, or choose Text.`;
    case "NotReadableError":
    case "AbortError":
      return `Your ${what} is in use by another app. Close it and press Start again.`;
    case "InsecureContext":
      return "Calls need a secure (https) page.";
    default:
      return `Could not start the ${what}${error && error.message ? `: ${error.message}` : ""}.`;
  }
}

export async function getLocalMedia(mode) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const error = new Error("no media devices");
    error.name = window.isSecureContext ? "NotFoundError" : "InsecureContext";
    throw error;
  }
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: mode === "video" ? { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" } : false,
  });
}

function serverUrls(server) {
  return [].concat(server.urls || server.url || []);
}

export function hasTurnServer(iceServers) {
  return iceServers.some((server) => serverUrls(server).some((url) => /^turns?:/i.test(url)));
}

export class Call {
  // `streamPromise` resolves to the local camera/microphone stream; signals that arrive before
  // it resolves wait on the chain.
  constructor({ mode, streamPromise, iceServers, relayOnly, initiator, sendSignal, video, onState }) {
    this.mode = mode;
    this.iceServers = iceServers || [];
    this.relayOnly = Boolean(relayOnly) && hasTurnServer(this.iceServers);
    this.initiator = initiator;
    this.sendSignal = sendSignal;
    this.video = video; // { local, remote }
    this.onState = onState;
    this.stream = null;
    this.pc = null;
    this.closed = false;
    this.failed = false;
    this.expectFreshOffer = false;
    this.timers = new Set();
    this.chain = streamPromise.then((stream) => {
      if (this.closed) {
        stream.getTracks().forEach((track) => track.stop());
        return;
      }
      this.stream = stream;
      this.video.local.srcObject = mode === "video" ? stream : null;
    });
    this.onState("connecting", "Starting the call…");
  }

  // Opens the call; the initiator sends the first offer.
  start() {
    this.enqueue(async () => {
      this.build();
      if (this.initiator) await this.offer();
    });
  }

  handleSignal(data) {
    this.enqueue(() => this.applySignal(data));
  }

  // After either side came back from a dropped socket: the partner may have reloaded and lost
  // its RTCPeerConnection, so the call starts again on a fresh one with new ICE credentials.
  renegotiate() {
    if (this.closed || this.failed) return;
    if (this.initiator) {
      this.enqueue(async () => {
        this.build();
        await this.offer();
      });
    } else {
      this.expectFreshOffer = true;
    }
  }

  setMuted(muted) {
    this.stream?.getAudioTracks().forEach((track) => { track.enabled = !muted; });
  }

  setCameraOff(off) {
    this.stream?.getVideoTracks().forEach((track) => { track.enabled = !off; });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.closePeer();
    this.stream?.getTracks().forEach((track) => track.stop());
    this.video.local.srcObject = null;
    this.video.remote.srcObject = null;
  }

  // ---- internals

  enqueue(step) {
    this.chain = this.chain.then(() => (this.closed ? undefined : step())).catch((error) => {
      console.warn("call step failed", error);
    });
  }

  closePeer() {
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = null;
  }

  build() {
    if (!this.stream) throw new Error("no local media");
    this.closePeer();
    this.clearTimers();
    const config = { iceServers: this.iceServers };
    if (this.relayOnly) config.iceTransportPolicy = "relay";
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    this.restarted = false;
    this.relayCandidates = 0;
    this.lastCandidateError = null;
    this.descriptionSent = false;
    this.outbox = [];
    this.stream.getTracks().forEach((track) => pc.addTrack(track, this.stream));
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      const candidate = event.candidate;
      if (candidate && candidate.type === "relay") this.relayCandidates += 1;
      this.sendCandidate(candidate ? candidate.toJSON() : null);
      if (!candidate) this.gatheringComplete();
    };
    pc.onicecandidateerror = (event) => {
      this.lastCandidateError = event.errorCode;
    };
    pc.ontrack = (event) => {
      if (pc !== this.pc) return;
      const remote = event.streams[0] || new MediaStream([event.track]);
      if (this.video.remote.srcObject !== remote) this.video.remote.srcObject = remote;
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc) this.connectionChanged();
    };
    this.later(CONNECT_TIMEOUT_MS, () => {
      if (pc === this.pc && pc.connectionState !== "connected") this.restartOrFail();
    });
    this.onState("connecting", "Connecting the call…");
  }

  // Candidates must not overtake the description they belong to.
  sendCandidate(candidate) {
    if (this.descriptionSent) this.sendSignal({ candidate });
    else this.outbox.push(candidate);
  }

  sendDescription(description) {
    this.sendSignal({ description: { type: description.type, sdp: description.sdp } });
    this.descriptionSent = true;
    for (const candidate of this.outbox.splice(0)) this.sendSignal({ candidate });
  }

  async offer(options = {}) {
    const pc = this.pc;
    this.descriptionSent = false;
    await pc.setLocalDescription(await pc.createOffer(options));
    this.sendDescription(pc.localDescription);
  }

  async applySignal(data) {
    if (data.description) {
      const description = data.description;
      if (description.type === "offer") {
        if (this.initiator) return; // only the initiator offers; a stray offer is ignored
        if (this.expectFreshOffer || !this.pc) {
          this.expectFreshOffer = false;
          this.build();
        }
        try {
          await this.pc.setRemoteDescription(description);
        } catch {
          // An offer from a partner's new RTCPeerConnection does not fit the old one.
          this.build();
          await this.pc.setRemoteDescription(description);
        }
        this.descriptionSent = false;
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.sendDescription(this.pc.localDescription);
      } else if (description.type === "answer") {
        if (!this.pc || this.pc.signalingState !== "have-local-offer") return;
        await this.pc.setRemoteDescription(description);
      }
    } else if ("candidate" in data) {
      if (!this.pc || !this.pc.remoteDescription) return;
      try {
        if (data.candidate) await this.pc.addIceCandidate(data.candidate);
        else await this.pc.addIceCandidate();
      } catch (error) {
        // Candidates of an earlier ICE generation are refused after a restart; harmless.
        console.debug("candidate refused", error);
      }
    }
  }

  gatheringComplete() {
    if (!this.relayOnly || this.relayCandidates > 0 || this.failed) return;
    // Wrong or expired TURN credentials never reach ICE "failed": gathering just ends empty.
    const why = this.lastCandidateError === 401 ? " (the relay server refused the credentials)" : "";
    this.fail(`${COULD_NOT_CONNECT}${why}. You can keep chatting by text.`);
  }

  connectionChanged() {
    const state = this.pc.connectionState;
    if (state === "connected") {
      this.clearTimers();
      this.onState("connected", this.mode === "video" ? "Video call connected" : "Voice call connected");
    } else if (state === "connecting" || state === "new") {
      this.onState("connecting", "Connecting the call…");
    } else if (state === "disconnected") {
      this.onState("connecting", "Call interrupted, reconnecting…");
      const pc = this.pc;
      this.later(DISCONNECTED_GRACE_MS, () => {
        if (pc === this.pc && pc.connectionState === "disconnected") this.restartOrFail();
      });
    } else if (state === "failed") {
      this.restartOrFail();
    }
  }

  // One ICE restart per connection; a second failure is final.
  restartOrFail() {
    if (this.closed || this.failed) return;
    if (this.restarted) {
      this.fail(`${COULD_NOT_CONNECT}. You can keep chatting by text.`);
      return;
    }
    this.restarted = true;
    this.onState("connecting", "Reconnecting the call…");
    const pc = this.pc;
    if (this.initiator) this.enqueue(() => (pc === this.pc ? this.offer({ iceRestart: true }) : undefined));
    this.later(RESTART_TIMEOUT_MS, () => {
      if (pc === this.pc && pc.connectionState !== "connected") {
        this.fail(`${COULD_NOT_CONNECT}. You can keep chatting by text.`);
      }
    });
  }

  fail(message) {
    if (this.closed) return;
    this.failed = true;
    this.clearTimers();
    this.closePeer();
    // No camera light for a call that is not happening.
    this.stream?.getTracks().forEach((track) => track.stop());
    this.video.local.srcObject = null;
    this.video.remote.srcObject = null;
    this.onState("failed", message);
  }

  later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  clearTimers() {
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
  }
}
