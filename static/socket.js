// The live socket with automatic reconnect (PROTOCOL.md section 2, "Reconnecting").
//
// The page never talks to WebSocket directly: it gets frames through `onFrame` and learns
// about the link through `onOpen` / `onDrop` / `onGiveUp`, so that reconnect policy lives in
// one place.

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_EVERY_MS = 25000;
// A phone that changed networks can keep a dead socket "open" for minutes; silence this long
// after a ping means the link is gone.
const SILENCE_LIMIT_MS = PING_EVERY_MS + 10000;
const ABNORMAL_CLOSURE = 1006;
// The page never closes its socket with 1000: that means "goodbye" and ends the conversation at
// once (PROTOCOL.md v2). A link it gives up on is closed with this application code instead, and
// an unloading page lets the browser close with 1001 (going away), a drop with a grace window.
const CLOSE_STALE_LINK = 4000;
const FLOODING_PAUSE_MS = 30000;
const TRY_AGAIN_SHORTLY_MS = 3000;

// Close codes of the contract, and the two standard ones a server restart or outage uses.
export const CLOSE = {
  NOT_LOGGED_IN: 4001,
  FORBIDDEN: 4003,
  FLOODING: 4008,
  REPLACED: 4009,
  RESTARTING: 1012,
  TRY_AGAIN_LATER: 1013,
};

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

// Full jitter: a crowd of clients dropped by one server restart must not come back in step.
function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

export class LiveSocket {
  constructor(path, { onFrame, onOpen, onDrop, onGiveUp }) {
    this.url = socketUrl(path);
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onDrop = onDrop;
    this.onGiveUp = onGiveUp;
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pauseMs = null; // set by a rate_limited error just before a 4008 close
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.lastHeardAt = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.keepAlive(ws), PING_EVERY_MS);
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      this.lastHeardAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      this.afterClose(event.code);
    });
  }

  keepAlive(ws) {
    if (Date.now() - this.lastHeardAt > SILENCE_LIMIT_MS) {
      this.ws = null; // its close event, whenever it comes, is ignored
      clearInterval(this.pingTimer);
      ws.close(CLOSE_STALE_LINK);
      this.afterClose(ABNORMAL_CLOSURE);
      return;
    }
    this.send({ type: "ping" });
  }

  afterClose(code) {
    if (this.stopped) return;
    if (code === CLOSE.NOT_LOGGED_IN || code === CLOSE.FORBIDDEN || code === CLOSE.REPLACED) {
      this.stopped = true;
      this.onGiveUp(code);
      return;
    }
    let delay;
    if (code === CLOSE.RESTARTING) {
      // Every client of the stopping process comes back at once; a little jitter spreads them.
      delay = Math.round(Math.random() * 300);
    } else if (code === CLOSE.FLOODING) {
      delay = (this.pauseMs ?? FLOODING_PAUSE_MS) + Math.random() * 2000;
    } else if (code === CLOSE.TRY_AGAIN_LATER) {
      delay = TRY_AGAIN_SHORTLY_MS + backoffDelay(this.attempt);
    } else {
      delay = backoffDelay(this.attempt);
    }
    this.pauseMs = null;
    this.attempt += 1;
    this.onDrop(code, delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // Skips the wait of a scheduled reconnect (the user pressed "Retry now").
  retryNow() {
    if (this.ws === null && !this.stopped) this.connect();
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
