// The chat page: choices, status, transcript, and the calls of voice and video mode.
//
// Every text that comes from the server or a user is put into the page with `textContent`,
// never as HTML.

import { Call, COULD_NOT_CONNECT, getLocalMedia, mediaErrorMessage } from "./call.js";
import { CLOSE, LiveSocket } from "./socket.js";

const MAX_INTERESTS = 10;
const MAX_INTEREST_LENGTH = 30;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;
const ESC_TWICE_MS = 1500;
const NOTICE_MS = 6000;
const CHOICES_KEY = "chat.choices";
// Per tab, so that a reload can resume the conversation this tab was in.
const CONVERSATION_KEY = "chat.conversation";

const app = document.getElementById("chat-app");
const $ = (id) => document.getElementById(id);
const el = {
  setup: $("setup"),
  tagList: $("tag-list"),
  interestInput: $("interest-input"),
  lang: $("lang"),
  start: $("start"),
  keepHistory: $("keep-history"),
  keepHistoryNote: $("keep-history-note"),
  status: $("status"),
  notices: $("notices"),
  next: $("next"),
  report: $("report"),
  block: $("block"),
  transcript: $("transcript"),
  typing: $("typing"),
  composer: $("composer"),
  message: $("message"),
  send: $("send"),
  call: $("call"),
  callState: $("call-state"),
  remoteVideo: $("remote-video"),
  remotePlaceholder: $("remote-placeholder"),
  tapToPlay: $("tap-to-play"),
  localVideo: $("local-video"),
  mute: $("mute"),
  camera: $("camera"),
  reportDialog: $("report-dialog"),
  reportForm: $("report-form"),
  reportNote: $("report-note"),
  reportCancel: $("report-cancel"),
};

// What the page knows; the socket's frames are the only thing that changes `phase`.
const state = {
  phase: "idle", // idle | searching | chatting | ended | gone
  connected: false,
  everConnected: false,
  interests: [],
  conversation: null, // { id, mode, partner, initiator, commonInterests }
  lastMessageId: null,
  seenIds: new Set(),
  pending: new Map(), // client_id -> <li> of an own line not yet acknowledged
  clientSeq: 0,
  canReport: false,
  findAfterEnd: false,
  resuming: false,
  call: null,
  media: null, // the local stream obtained for the next call
  choices: null, // the choices of the last find, reused by Next
  shownConversation: null, // the conversation whose opening lines the transcript shows
  blocking: false,
};

// ---- small view helpers

function setStatus(text) {
  el.status.textContent = text;
}

function notice(text, { kind = "info", sticky = false, key = null } = {}) {
  if (key) dismissNotice(key);
  const item = document.createElement("div");
  item.className = `notice ${kind}`;
  if (key) item.dataset.key = key;
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  item.textContent = text;
  el.notices.append(item);
  if (!sticky) setTimeout(() => item.remove(), NOTICE_MS);
  return item;
}

function dismissNotice(key) {
  el.notices.querySelectorAll(`[data-key="${key}"]`).forEach((item) => item.remove());
}

function systemLine(text, kind = "system") {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = text;
  el.transcript.append(item);
  scrollToEnd();
  return item;
}

function scrollToEnd() {
  el.transcript.scrollTop = el.transcript.scrollHeight;
}

function timeOf(ts) {
  const date = ts ? new Date(ts) : new Date();
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fillLine(item, frame) {
  item.className = `line ${frame.from === "me" ? "mine" : "theirs"}`;
  item.replaceChildren();
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = frame.text;
  item.append(text);
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = timeOf(frame.ts);
  if (frame.filtered) {
    item.classList.add("filtered");
    const mark = document.createElement("span");
    mark.className = "filtered-mark";
    mark.textContent = frame.from === "me" ? "filtered: your partner saw this version" : "filtered";
    mark.title = "The site's filter changed this line";
    meta.prepend(mark, " · ");
  }
  item.append(meta);
  if (frame.id) item.dataset.id = frame.id;
}

function partnerName() {
  return state.conversation?.partner?.handle || "Stranger";
}

function updateControls() {
  const chatting = state.phase === "chatting";
  const live = state.connected && !state.resuming;
  el.message.disabled = !(chatting && live);
  el.send.disabled = !(chatting && live);
  // Start begins a search; this button stops one or moves on to the next stranger.
  el.next.hidden = state.phase !== "searching" && state.phase !== "chatting";
  el.next.disabled = !live;
  el.next.textContent = state.phase === "searching" ? "Stop" : "Next";
  el.next.title = state.phase === "searching" ? "Stop looking" : "Leave and meet someone new (Esc Esc)";
  el.report.hidden = el.block.hidden = !state.canReport || state.phase === "gone";
  el.report.disabled = el.block.disabled = !live;
  el.start.disabled = !live || state.phase === "searching" || state.phase === "chatting" || state.phase === "gone";
  app.dataset.phase = state.phase;
}

// ---- interests, language and mode

function renderTags() {
  el.tagList.replaceChildren(...state.interests.map((tag, index) => {
    const item = document.createElement("li");
    item.className = "tag";
    const label = document.createElement("span");
    label.textContent = tag;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "tag-remove";
    remove.setAttribute("aria-label", `Remove ${tag}`);
    remove.textContent = "×";
    remove.addEventListener("click", () => {
      state.interests.splice(index, 1);
      renderTags();
      el.interestInput.focus();
    });
    item.append(label, remove);
    return item;
  }));
  el.interestInput.disabled = state.interests.length >= MAX_INTERESTS;
  el.interestInput.placeholder = state.interests.length >= MAX_INTERESTS
    ? "That's 10 interests" : state.interests.length ? "add another…" : "chess, jazz… press Enter";
}

function addInterests(raw) {
  for (const part of raw.split(",")) {
    const tag = part.trim().replace(/\s+/g, " ").toLowerCase();
    if (!tag) continue;
    if (tag.length > MAX_INTEREST_LENGTH) {
      notice(`An interest is at most ${MAX_INTEREST_LENGTH} characters.`, { kind: "error", key: "tags" });
      continue;
    }
    if (state.interests.includes(tag)) continue;
    if (state.interests.length >= MAX_INTERESTS) {
      notice(`At most ${MAX_INTERESTS} interests.`, { kind: "error", key: "tags" });
      break;
    }
    state.interests.push(tag);
  }
  renderTags();
}

function selectedMode() {
  return el.setup.querySelector("input[name=mode]:checked")?.value || "text";
}

function currentChoices() {
  addInterests(el.interestInput.value);
  el.interestInput.value = "";
  return { mode: selectedMode(), interests: [...state.interests], lang: el.lang.value || null };
}

function saveChoices(choices) {
  try {
    localStorage.setItem(CHOICES_KEY, JSON.stringify(choices));
  } catch {
    // Private browsing may refuse storage; the choices just are not remembered.
  }
}

function restoreChoices() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(CHOICES_KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved) return;
  state.interests = (saved.interests || []).filter((t) => typeof t === "string").slice(0, MAX_INTERESTS);
  if ([...el.lang.options].some((o) => o.value === saved.lang)) el.lang.value = saved.lang || "";
  const radio = el.setup.querySelector(`input[name=mode][value="${CSS.escape(saved.mode || "text")}"]`);
  if (radio) radio.checked = true;
}

// ---- finding a partner

async function find(choices) {
  if (!state.connected) return;
  state.choices = choices;
  saveChoices(choices);
  if (choices.mode !== "text" && !state.media) {
    setStatus(choices.mode === "video" ? "Allow the camera and microphone…" : "Allow the microphone…");
    try {
      state.media = await getLocalMedia(choices.mode);
    } catch (error) {
      setStatus("Pick some interests and press Start.");
      notice(mediaErrorMessage(error, choices.mode), { kind: "error", sticky: true, key: "media" });
      return;
    }
    dismissNotice("media");
    showCallArea(choices.mode);
    el.localVideo.srcObject = choices.mode === "video" ? state.media : null;
  }
  state.socket.send({ type: "find", mode: choices.mode, interests: choices.interests, lang: choices.lang });
}

function searchingText() {
  const interests = state.choices?.interests || [];
  if (!interests.length) return "Looking for someone…";
  return `Looking for someone who likes ${listText(interests)}…`;
}

function listText(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

function bothText(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function next() {
  if (!state.connected) return;
  if (state.phase === "searching") {
    state.socket.send({ type: "cancel" });
    return;
  }
  if (state.phase === "chatting") {
    state.findAfterEnd = true;
    endCall();
    state.socket.send({ type: "leave" });
    return;
  }
  find(state.choices || currentChoices());
}

// ---- conversation

function rememberConversation() {
  try {
    if (state.conversation) sessionStorage.setItem(CONVERSATION_KEY, JSON.stringify(state.conversation));
    else sessionStorage.removeItem(CONVERSATION_KEY);
  } catch {
    // Without storage a reload starts afresh; the partner is told the page left.
  }
}

function restoreConversation() {
  try {
    state.conversation = JSON.parse(sessionStorage.getItem(CONVERSATION_KEY) || "null");
  } catch {
    state.conversation = null;
  }
  if (state.conversation) {
    state.phase = "chatting";
    state.resuming = true;
    setStatus(`Reconnecting to ${partnerName()}…`);
  }
}

function beginConversation(frame) {
  state.conversation = {
    id: frame.conversation,
    mode: frame.mode,
    partner: frame.partner || {},
    initiator: Boolean(frame.initiator),
    commonInterests: frame.common_interests || state.conversation?.commonInterests || [],
    iceServers: frame.ice_servers || [],
    relayOnly: frame.relay_only === true,
  };
  state.phase = "chatting";
  state.canReport = true;
  rememberConversation();
  if (state.shownConversation !== frame.conversation) {
    state.shownConversation = frame.conversation;
    state.seenIds.clear();
    state.pending.clear();
    state.lastMessageId = null;
    el.transcript.replaceChildren();
    systemLine(`You are now chatting with ${partnerName()}. Say hi!`);
    if (state.conversation.partner.keeps_history) {
      systemLine(`${partnerName()} keeps a transcript of this chat`, "system warning keeps-history");
    }
  }
  setStatus(connectedText());
  showTyping(false);
}

function connectedText() {
  const common = state.conversation?.commonInterests || [];
  const base = `Connected to ${partnerName()}`;
  return common.length ? `${base} — you both like ${bothText(common)}` : base;
}

function endConversation(text) {
  state.phase = "ended";
  state.conversation = null;
  state.resuming = false;
  rememberConversation();
  dismissNotice("partner");
  endCall();
  showTyping(false);
  for (const item of state.pending.values()) item.classList.add("failed");
  state.pending.clear();
  setStatus(text);
  systemLine(text);
}

function renderMessage(frame) {
  if (frame.id && state.seenIds.has(frame.id)) return;
  if (frame.id) {
    state.seenIds.add(frame.id);
    state.lastMessageId = frame.id;
  }
  const pendingItem = frame.from === "me" && frame.client_id ? state.pending.get(frame.client_id) : null;
  if (pendingItem) {
    state.pending.delete(frame.client_id);
    fillLine(pendingItem, frame);
    // The acknowledgement fixes the line's place in the one order both sides see.
    el.transcript.append(pendingItem);
  } else {
    const item = document.createElement("li");
    fillLine(item, frame);
    el.transcript.append(item);
  }
  if (frame.from === "partner") showTyping(false);
  scrollToEnd();
}

function sendMessage() {
  const text = el.message.value.trim();
  if (!text || state.phase !== "chatting") return;
  const clientId = `c-${Date.now().toString(36)}-${++state.clientSeq}`;
  if (!state.socket.send({ type: "message", text, client_id: clientId })) return;
  const item = document.createElement("li");
  fillLine(item, { from: "me", text });
  item.classList.add("pending");
  state.pending.set(clientId, item);
  el.transcript.append(item);
  scrollToEnd();
  el.message.value = "";
  autoGrow();
  stopTyping();
}

// ---- typing indicator

let typingSentAt = 0;
let typingIdleTimer = null;
let typingShownTimer = null;

function onComposerInput() {
  autoGrow();
  if (state.phase !== "chatting") return;
  const now = Date.now();
  if (now - typingSentAt > TYPING_SEND_EVERY_MS) {
    typingSentAt = now;
    state.socket.send({ type: "typing", active: true });
  }
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingIdleTimer);
  if (typingSentAt && state.phase === "chatting") state.socket.send({ type: "typing", active: false });
  typingSentAt = 0;
}

function showTyping(active) {
  clearTimeout(typingShownTimer);
  el.typing.hidden = !active;
  if (active) {
    el.typing.textContent = `${partnerName()} is typing…`;
    typingShownTimer = setTimeout(() => { el.typing.hidden = true; }, TYPING_SHOWN_MS);
  }
}

function autoGrow() {
  el.message.style.height = "auto";
  el.message.style.height = `${Math.min(el.message.scrollHeight, 160)}px`;
}

// ---- calls

function showCallArea(mode) {
  el.call.hidden = false;
  el.call.dataset.mode = mode;
  el.camera.hidden = mode !== "video";
  el.localVideo.hidden = mode !== "video";
}

function hideCallArea() {
  el.call.hidden = true;
  el.mute.setAttribute("aria-pressed", "false");
  el.mute.textContent = "Mute";
  el.camera.setAttribute("aria-pressed", "false");
  el.camera.textContent = "Camera off";
}

function setCallState(kind, text) {
  el.call.dataset.state = kind;
  el.callState.textContent = kind === "failed" ? "Call not connected" : text;
  el.remotePlaceholder.hidden = kind === "connected" && el.call.dataset.mode === "video";
  el.mute.hidden = kind === "failed";
  el.camera.hidden = kind === "failed" || el.call.dataset.mode !== "video";
  el.localVideo.hidden = kind === "failed" || el.call.dataset.mode !== "video";
  if (kind === "failed") {
    el.remotePlaceholder.textContent = text;
  } else if (kind === "connected") {
    el.remotePlaceholder.textContent = el.call.dataset.mode === "voice" ? `Voice call with ${partnerName()}` : "";
  } else {
    el.remotePlaceholder.textContent = text;
  }
}

function startCall(conversation, { resumed }) {
  if (conversation.mode === "text") return;
  if (state.call && resumed) {
    state.call.renegotiate();
    return;
  }
  const media = state.media;
  state.media = null;
  endCall({ keepArea: true });
  const streamPromise = media ? Promise.resolve(media) : getLocalMedia(conversation.mode);
  showCallArea(conversation.mode);
  const call = new Call({
    mode: conversation.mode,
    streamPromise,
    iceServers: conversation.iceServers,
    relayOnly: conversation.relayOnly,
    initiator: conversation.initiator,
    sendSignal: (data) => state.socket.send({ type: "signal", data }),
    video: { local: el.localVideo, remote: el.remoteVideo },
    onState: setCallState,
  });
  streamPromise.catch((error) => {
    call.close();
    setCallState("failed", `${COULD_NOT_CONNECT}: ${mediaErrorMessage(error, conversation.mode)}`);
  });
  state.call = call;
  window.chatCall = call; // lets the browser tests read the connection's getStats()
  call.start();
}

function endCall({ keepArea = false } = {}) {
  if (state.call) state.call.close();
  state.call = null;
  window.chatCall = null;
  if (state.media) {
    state.media.getTracks().forEach((track) => track.stop());
    state.media = null;
  }
  el.localVideo.srcObject = null;
  el.remoteVideo.srcObject = null;
  el.tapToPlay.hidden = true;
  if (!keepArea) hideCallArea();
}

// Phones may refuse to play sound without a gesture; offer one instead of a silent black box.
el.remoteVideo.addEventListener("loadedmetadata", () => {
  el.remoteVideo.play().then(() => { el.tapToPlay.hidden = true; }).catch(() => { el.tapToPlay.hidden = false; });
});
el.tapToPlay.addEventListener("click", () => {
  el.remoteVideo.play().then(() => { el.tapToPlay.hidden = true; }).catch(() => {});
});
el.mute.addEventListener("click", () => {
  const muted = el.mute.getAttribute("aria-pressed") !== "true";
  el.mute.setAttribute("aria-pressed", String(muted));
  el.mute.textContent = muted ? "Unmute" : "Mute";
  state.call?.setMuted(muted);
});
el.camera.addEventListener("click", () => {
  const off = el.camera.getAttribute("aria-pressed") !== "true";
  el.camera.setAttribute("aria-pressed", String(off));
  el.camera.textContent = off ? "Camera on" : "Camera off";
  state.call?.setCameraOff(off);
});

// ---- frames from the server

const ERROR_TEXT = {
  too_long: "That line is too long (at most 2000 characters).",
  bad_frame: "The server did not understand that.",
  already_searching: "Already looking for someone.",
  not_in_conversation: "You are not in a conversation.",
};

const handlers = {
  welcome(frame) {
    el.keepHistory.checked = Boolean(frame.keeps_history);
    if (state.conversation) {
      // Back after a dropped socket: pick the conversation up where this page left it.
      state.resuming = true;
      state.socket.send({ type: "resume", conversation: state.conversation.id, after: state.lastMessageId });
      setStatus(`Reconnecting to ${partnerName()}…`);
    } else if (state.phase === "searching" && state.choices) {
      // The queue forgets a socket that dropped; look again with the same choices.
      state.phase = "idle";
      find(state.choices);
    } else if (state.phase === "idle") {
      setStatus("Pick some interests and press Start.");
    }
  },
  searching() {
    state.phase = "searching";
    setStatus(searchingText());
    if (!el.transcript.children.length) systemLine("Looking for a stranger. This can take a few seconds.");
  },
  cancelled() {
    state.phase = "idle";
    endCall();
    setStatus("Stopped looking. Press Start when you are ready.");
  },
  matched(frame) {
    beginConversation(frame);
    startCall(state.conversation, { resumed: false });
    el.message.focus({ preventScroll: true });
  },
  resumed(frame) {
    state.resuming = false;
    beginConversation(frame);
    for (const missed of frame.missed || []) renderMessage(missed);
    // Own lines sent just before the drop that the server never accepted.
    for (const item of state.pending.values()) {
      item.classList.remove("pending");
      item.classList.add("failed");
      item.title = "Not sent: the connection dropped";
    }
    state.pending.clear();
    systemLine("Reconnected.");
    startCall(state.conversation, { resumed: true });
  },
  message(frame) {
    if (state.phase !== "chatting") return;
    renderMessage(frame);
  },
  typing(frame) {
    if (state.phase === "chatting") showTyping(Boolean(frame.active));
  },
  signal(frame) {
    if (state.call && frame.data && typeof frame.data === "object") state.call.handleSignal(frame.data);
  },
  partner_reconnecting() {
    showTyping(false);
    notice("Stranger is reconnecting…", { kind: "warning", sticky: true, key: "partner" });
  },
  partner_back() {
    dismissNotice("partner");
    if (state.call) state.call.renegotiate();
  },
  partner_left(frame) {
    dismissNotice("partner");
    const why = { disconnected: " (connection lost)", blocked: "", banned: "" }[frame.reason] || "";
    endConversation(`Stranger has left${why}`);
  },
  ended() {
    dismissNotice("partner");
    endConversation(state.blocking ? `You blocked ${partnerName()}.` : "You left the conversation.");
    state.blocking = false;
    if (state.findAfterEnd) {
      state.findAfterEnd = false;
      find(state.choices || currentChoices());
    }
  },
  reported() {
    notice("Thank you. Your report was sent to the moderators.", { kind: "success" });
  },
  blocked() {
    notice("Blocked. You will never be matched with them again.", { kind: "success" });
    state.canReport = state.phase === "ended" || state.phase === "chatting";
  },
  pong() {},
  banned(frame) {
    endConversation("You are banned.");
    state.phase = "gone";
    const until = frame.until ? `until ${new Date(frame.until).toLocaleString()}` : "with no end date";
    const reason = frame.reason ? ` Reason: ${frame.reason}.` : "";
    const item = notice(`You are banned ${until}.${reason} `, { kind: "error", sticky: true, key: "banned" });
    const link = document.createElement("a");
    link.href = app.dataset.decisionsUrl;
    link.textContent = "Read the decision or appeal it";
    item.append(link);
  },
  error(frame) {
    if (frame.code === "not_in_conversation" && state.resuming) {
      state.resuming = false;
      endConversation("The conversation ended while you were away.");
      return;
    }
    const refusedLine = ["rate_limited", "too_long", "muted"].includes(frame.code) && state.pending.size > 0;
    if (refusedLine) {
      // Lines are answered in the order they were sent: the oldest waiting one was refused.
      const [clientId, item] = state.pending.entries().next().value;
      state.pending.delete(clientId);
      item.classList.replace("pending", "failed");
      item.title = "Not sent";
      if (!el.message.value) el.message.value = item.querySelector(".text").textContent;
    }
    if (frame.code === "rate_limited") {
      const seconds = Math.ceil(Number(frame.retry_after) || 1);
      state.socket.pauseMs = seconds * 1000;
      notice(refusedLine ? `Slow down: you can send again in ${seconds} s.`
        : `Too much at once: try again in ${seconds} s.`, { kind: "warning", key: "rate" });
      return;
    }
    if (frame.code === "muted") {
      const until = frame.until ? ` until ${new Date(frame.until).toLocaleString()}` : "";
      notice(`A moderator muted you${until}. Your lines are not sent.`, { kind: "error", key: "muted" });
      return;
    }
    if (frame.code === "replaced") return; // the 4009 close says it
    if (frame.code === "already_searching" && state.phase !== "idle") return;
    notice(ERROR_TEXT[frame.code] || frame.detail || "Something went wrong.", { kind: "error" });
  },
};

function onFrame(frame) {
  const handler = handlers[frame.type];
  if (handler) handler(frame);
  updateControls();
}

function onOpen() {
  state.connected = true;
  state.everConnected = true;
  dismissNotice("link");
  updateControls();
}

function onDrop(code, delayMs) {
  state.connected = false;
  showTyping(false);
  const seconds = Math.round(delayMs / 1000);
  const text = code === CLOSE.FLOODING
    ? `Too many messages at once. Reconnecting in ${seconds} s…`
    : code === CLOSE.TRY_AGAIN_LATER ? "The server is busy. Reconnecting…" : "Reconnecting…";
  notice(text, { kind: "warning", sticky: true, key: "link" });
  updateControls();
}

function onGiveUp(code) {
  state.connected = false;
  if (code === CLOSE.NOT_LOGGED_IN) {
    location.assign(app.dataset.loginUrl);
    return;
  }
  const wasChatting = state.phase === "chatting";
  state.phase = "gone";
  state.conversation = null;
  rememberConversation();
  endCall();
  showTyping(false);
  dismissNotice("link");
  if (code === CLOSE.REPLACED) {
    setStatus("Opened in another tab");
    notice("Opened in another tab. Chat there, or reload this page to chat here.", { kind: "warning", sticky: true, key: "link" });
  } else if (!el.notices.querySelector('[data-key="banned"]')) {
    setStatus("You cannot chat right now.");
    notice("This account may not chat right now.", { kind: "error", sticky: true, key: "link" });
  }
  if (wasChatting) systemLine("This page stopped chatting.");
  updateControls();
}

// ---- keep history

async function saveKeepHistory() {
  const wanted = el.keepHistory.checked;
  const body = new FormData();
  body.append("csrfmiddlewaretoken", document.querySelector("meta[name=csrf-token]").content);
  body.append("form", "preferences");
  if (wanted) body.append("keeps_history", "on");
  el.keepHistory.disabled = true;
  try {
    const response = await fetch(app.dataset.settingsUrl, {
      method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error("refused");
    notice(wanted ? "History is on from your next conversation. Partners will see that you keep a transcript."
      : "History is off from your next conversation.", { kind: "success", key: "history" });
  } catch {
    el.keepHistory.checked = !wanted;
    notice("Could not save the history setting. Try again from Settings.", { kind: "error", key: "history" });
  } finally {
    el.keepHistory.disabled = false;
  }
}

// ---- wiring

el.interestInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === ",") {
    event.preventDefault();
    if (el.interestInput.value.trim()) {
      addInterests(el.interestInput.value);
      el.interestInput.value = "";
    } else if (event.key === "Enter") {
      el.setup.requestSubmit();
    }
  } else if (event.key === "Backspace" && !el.interestInput.value && state.interests.length) {
    state.interests.pop();
    renderTags();
  }
});
el.interestInput.addEventListener("blur", () => {
  if (el.interestInput.value.trim()) {
    addInterests(el.interestInput.value);
    el.interestInput.value = "";
  }
});
$("tags").addEventListener("click", (event) => {
  if (event.target === event.currentTarget) el.interestInput.focus();
});

el.setup.addEventListener("submit", (event) => {
  event.preventDefault();
  if (state.phase === "searching" || state.phase === "chatting") return;
  find(currentChoices());
});
el.setup.addEventListener("change", (event) => {
  if (event.target.name === "mode" && state.media) {
    state.media.getTracks().forEach((track) => track.stop());
    state.media = null;
  }
});
el.next.addEventListener("click", next);
el.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});
el.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendMessage();
  }
});
el.message.addEventListener("input", onComposerInput);

let lastEscape = 0;
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || el.reportDialog.open) return;
  const now = Date.now();
  if (now - lastEscape < ESC_TWICE_MS) {
    lastEscape = 0;
    dismissNotice("esc");
    next();
  } else {
    lastEscape = now;
    if (state.phase === "chatting") notice("Press Esc again for the next stranger.", { key: "esc" });
  }
});

el.report.addEventListener("click", () => {
  el.reportForm.reset();
  el.reportDialog.showModal();
});
el.reportCancel.addEventListener("click", () => el.reportDialog.close());
el.reportForm.addEventListener("submit", (event) => {
  const reason = el.reportForm.querySelector("input[name=reason]:checked")?.value;
  if (!reason) {
    event.preventDefault();
    return;
  }
  const note = el.reportNote.value.trim();
  state.socket.send(note ? { type: "report", reason, note } : { type: "report", reason });
});

let blockArmedUntil = 0;
el.block.addEventListener("click", () => {
  // A second click confirms, so that a slip of the finger does not block someone for good.
  if (Date.now() > blockArmedUntil) {
    blockArmedUntil = Date.now() + 4000;
    el.block.textContent = "Click again to block";
    setTimeout(() => { el.block.textContent = "Block"; }, 4000);
    return;
  }
  blockArmedUntil = 0;
  el.block.textContent = "Block";
  state.blocking = state.phase === "chatting";
  endCall();
  state.socket.send({ type: "block" });
});

el.keepHistory.addEventListener("change", saveKeepHistory);
// Back on a network: no need to wait out the backoff.
window.addEventListener("online", () => state.socket.retryNow());

restoreChoices();
restoreConversation();
renderTags();
updateControls();
state.socket = new LiveSocket(app.dataset.socketPath, { onFrame, onOpen, onDrop, onGiveUp });
state.socket.connect();
