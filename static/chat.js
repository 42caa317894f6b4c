// The chat page: choices, status, transcript, and the calls of voice and video mode.
//
// Every text that comes from the server or a user is put into the page with `textContent`,
// never as HTML.

import { Call, COULD_NOT_CONNECT, getLocalMedia, mediaErrorMessage } from "./call.js";
import { Keeping } from "./keeping.js";
import { CLOSE, LiveSocket } from "./socket.js";

const MAX_INTERESTS = 10;
const MAX_INTEREST_LENGTH = 30;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;
const ESC_TWICE_MS = 1500;
const NOTICE_MS = 6000;
const CHOICES_KEY = "chat.choices";
// Shared by the tabs of one account, so that a reload or a second tab resumes the
// conversation (PROTOCOL.md, "Reconnecting"); the account's handle is part of the key.
const CONVERSATION_KEY = "chat.conversation";
// Per tab: the half-typed line survives a reload.
const DRAFT_KEY = "chat.draft";
const SOUND_KEY = "chat.sound";
const NOTIFY_KEY = "chat.notify";
// How close to the bottom (px) still counts as "reading the newest lines".
const STICK_PX = 48;
// After this long without a match, suggest widening the search.
const WIDEN_HINT_MS = 20000;
const PARTNER = "Stranger";

const app = document.getElementById("chat-app");
const $ = (id) => document.getElementById(id);
const el = {
  setup: $("setup"),
  tagList: $("tag-list"),
  interestInput: $("interest-input"),
  lang: $("lang"),
  practice: $("practice"),
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
  rulesPrompt: $("rules-prompt"),
  searchInfo: $("search-info"),
  newLines: $("new-lines"),
  remoteCameraOff: $("remote-camera-off"),
  remoteMuted: $("remote-muted"),
  sound: $("sound"),
  notify: $("notify"),
};
const baseTitle = document.title;

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
  blocked: false, // the current or last partner is blocked
  replaced: false, // another tab took over this account's socket
  unread: 0, // lines and matches that arrived while the tab was hidden
  stick: true, // the transcript follows new lines (the person has not scrolled up)
  unseenLines: 0, // lines below the view while scrolled up
  searchingSince: 0,
  searchTimer: null,
  queueCount: null,
  justLeft: false, // the last search began right after a conversation
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
  followNewLine(true);
  return item;
}

function scrollToEnd() {
  el.transcript.scrollTop = el.transcript.scrollHeight;
  state.stick = true;
  state.unseenLines = 0;
  el.newLines.hidden = true;
}

function atBottom() {
  const t = el.transcript;
  return t.scrollHeight - t.scrollTop - t.clientHeight <= STICK_PX;
}

// A new line scrolls into view unless the person scrolled up to read; then a pill counts it.
function followNewLine(force = false) {
  if (force || state.stick) {
    scrollToEnd();
    return;
  }
  state.unseenLines += 1;
  el.newLines.textContent = state.unseenLines === 1 ? "1 new message ↓" : `${state.unseenLines} new messages ↓`;
  el.newLines.hidden = false;
}

function timeOf(ts) {
  const date = ts ? new Date(ts) : new Date();
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fillLine(item, frame) {
  item.className = `line ${frame.from === "me" ? "mine" : "theirs"}`;
  item.replaceChildren();
  // Screen readers hear who said it; the bubble's side shows it to the eye.
  const who = document.createElement("span");
  who.className = "visually-hidden";
  who.textContent = frame.from === "me" ? "You: " : `${PARTNER}: `;
  const text = document.createElement("span");
  text.className = "text";
  text.dir = "auto";
  text.textContent = frame.text;
  item.append(who, text);
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
  return PARTNER;
}

function updateControls() {
  const chatting = state.phase === "chatting";
  const live = state.connected && !state.resuming;
  // While searching the box already holds the focus (read-only), so that the first key after
  // a match lands in it.
  el.message.disabled = !((chatting || state.phase === "searching") && live);
  el.message.readOnly = !chatting;
  el.message.placeholder = state.phase === "searching" ? "Type once someone is found…" : "Type a message…";
  el.send.disabled = !(chatting && live);
  // Start begins a search; this button stops one, moves on, or starts the next one in place.
  el.next.hidden = !["searching", "chatting", "ended"].includes(state.phase);
  el.next.disabled = !live;
  el.next.textContent = { searching: "Stop", chatting: "Next", ended: "New chat" }[state.phase] || "Next";
  el.next.title = { searching: "Stop looking", chatting: "Leave and meet someone new (Esc Esc)",
    ended: "Meet someone new with the same choices" }[state.phase] || "";
  el.report.hidden = el.block.hidden = !state.canReport || state.phase === "gone";
  el.report.disabled = !live;
  el.block.disabled = !live || state.blocked;
  if (state.blocked) el.block.textContent = "Blocked";
  const rulesPending = Boolean(el.rulesPrompt);
  el.start.disabled = rulesPending || !live || state.phase === "searching" || state.phase === "chatting" || state.phase === "gone";
  app.dataset.phase = state.phase;
}

// After Start, Next, a match or a resume: the message box, so typing needs no click.
function focusComposer() {
  if (!el.message.disabled && document.activeElement !== el.message) el.message.focus({ preventScroll: true });
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
  return {
    mode: selectedMode(), interests: [...state.interests], lang: el.lang.value || null,
    practice: el.practice.value || null,
  };
}

// ---- language exchange: the practice choice and what a match says about it

const languageNames = new Intl.DisplayNames(["en"], { type: "language" });

function languageName(code) {
  try {
    return languageNames.of(code) || code;
  } catch {
    return code;
  }
}

function fillPracticeChoices() {
  for (const option of el.lang.options) {
    if (option.value) el.practice.append(new Option(option.text, option.value));
  }
}

function exchangeLine(frame) {
  const practice = frame.practice;
  if (!practice) return null;
  const name = languageName(practice);
  const speaker = `You practise ${name} with ${/^[AEIOU]/.test(name) ? "an" : "a"} ${name} speaker`;
  const lang = state.choices?.lang;
  return frame.tandem && lang ? `${speaker} who practises ${languageName(lang)}.` : `${speaker}.`;
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
  if ([...el.practice.options].some((o) => o.value === saved.practice)) el.practice.value = saved.practice || "";
  const radio = el.setup.querySelector(`input[name=mode][value="${CSS.escape(saved.mode || "text")}"]`);
  if (radio) radio.checked = true;
}

// ---- finding a partner

async function find(choices) {
  if (!state.connected) return;
  if (choices.practice && !choices.lang) {
    notice("Choose the language you speak, so that a partner can practise it with you.", { kind: "error", key: "practice" });
    el.lang.focus();
    return;
  }
  dismissNotice("practice");
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
  // queue_status: the server then tells how many others look in this mode (an extension).
  state.socket.send({ type: "find", mode: choices.mode, interests: choices.interests, lang: choices.lang, practice: choices.practice, queue_status: true });
}

// ---- while searching: how many others look, the last-partner rule, a hint to widen

function showSearchInfo() {
  clearTimeout(state.searchTimer);
  if (state.phase !== "searching") {
    el.searchInfo.hidden = true;
    return;
  }
  const parts = [];
  const mode = state.choices?.mode || "text";
  if (state.queueCount === 0) parts.push(`Nobody else is looking for a ${mode} chat right now.`);
  else if (state.queueCount === 1) parts.push(`1 other person is looking for a ${mode} chat.`);
  else if (state.queueCount > 1) parts.push(`${state.queueCount} others are looking for a ${mode} chat.`);
  if (state.justLeft) {
    const seconds = Number(app.dataset.lastPartnerSeconds) || 60;
    parts.push(`You are not matched again with the person you just left for ${seconds} s.`);
  }
  const waited = Date.now() - state.searchingSince;
  if (waited >= WIDEN_HINT_MS) {
    const narrow = [];
    if (state.choices?.interests?.length) narrow.push("fewer interests");
    if (state.choices?.lang) narrow.push("“Any language”");
    if (narrow.length) parts.push(`Still looking. Try ${narrow.join(" or ")} to meet someone sooner.`);
    else parts.push("Still looking. Few people are here right now; keep this tab open and we will tell you.");
  } else {
    state.searchTimer = setTimeout(showSearchInfo, WIDEN_HINT_MS - waited + 50);
  }
  el.searchInfo.textContent = parts.join(" ");
  el.searchInfo.hidden = parts.length === 0;
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
    focusComposer();
    return;
  }
  find(state.choices || currentChoices());
}

// ---- conversation

function conversationKey() {
  return `${CONVERSATION_KEY}.${app.dataset.handle}`;
}

function rememberConversation({ leftAt = null } = {}) {
  // A tab that another tab replaced no longer speaks for the account.
  if (state.replaced) return;
  try {
    if (state.conversation) {
      localStorage.setItem(conversationKey(), JSON.stringify({ ...state.conversation, leftAt }));
    } else {
      localStorage.removeItem(conversationKey());
    }
  } catch {
    // Without storage a reload starts afresh; the partner is told the page left.
  }
}

function restoreConversation() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(conversationKey()) || "null");
  } catch {
    saved = null;
  }
  // A page closed longer ago than the grace window: that conversation is over.
  const graceMs = (Number(app.dataset.graceSeconds) || 15) * 1000;
  if (saved && saved.leftAt && Date.now() - saved.leftAt > graceMs) saved = null;
  if (saved) delete saved.leftAt;
  state.conversation = saved;
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
    direct: frame.direct === true, // an accepted invitation: the partner is a contact
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
    state.blocked = false;
    el.block.textContent = "Block";
    systemLine(state.conversation.direct
      ? `You are talking with ${state.conversation.partner.handle}, one of your contacts.`
      : "You are now chatting with a stranger. Say hi!");
    const exchange = exchangeLine(frame);
    if (exchange) systemLine(exchange, "system exchange");
    if (state.conversation.partner.keeps_history) {
      systemLine(`${partnerName()} keeps a transcript of this chat`, "system warning keeps-history");
    }
  }
  state.justLeft = false;
  showSearchInfo();
  setStatus(connectedText());
  showTyping(false);
}

function connectedText() {
  if (state.conversation?.direct) return `Talking with ${state.conversation.partner.handle}`;
  const common = state.conversation?.commonInterests || [];
  const base = "Chatting with a stranger";
  return common.length ? `${base} — you both like ${bothText(common)}` : base;
}

function endConversation(text) {
  const wasChatting = state.phase === "chatting";
  state.justLeft = wasChatting;
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
  // "New chat" takes the place of Next; a keyboard user lands on it.
  if (wasChatting && (document.activeElement === el.message || document.activeElement === document.body)) {
    queueMicrotask(() => { if (!el.next.hidden && !el.next.disabled) el.next.focus(); });
  }
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
  if (frame.from === "partner") {
    showTyping(false);
    attention("line");
  }
  followNewLine(frame.from === "me");
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
  saveDraft();
  autoGrow();
  // No "stopped typing" per line: the line itself hides the partner's indicator, and a fast
  // typist would otherwise spend two frames a line against the frame rate limit. The idle
  // timer still says "stopped" once the person really stops.
}

// ---- the half-typed line, kept across a reload of this tab

function saveDraft() {
  try {
    if (el.message.value) sessionStorage.setItem(DRAFT_KEY, el.message.value);
    else sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    // Without storage the draft is simply not kept.
  }
}

function restoreDraft() {
  try {
    el.message.value = sessionStorage.getItem(DRAFT_KEY) || "";
  } catch {
    el.message.value = "";
  }
}

// ---- attention while the tab is in the background: title badge, sound, notification

let audioContext = null;

function preference(key, fallback) {
  try {
    const value = localStorage.getItem(key);
    return value === null ? fallback : value === "true";
  } catch {
    return fallback;
  }
}

function setPreference(key, value) {
  try {
    localStorage.setItem(key, String(value));
  } catch {
    // Not remembered; it still holds for this page.
  }
}

function beep() {
  if (!preference(SOUND_KEY, true)) return;
  try {
    audioContext = audioContext || new AudioContext();
    const oscillator = audioContext.createOscillator();
    const gain = audioContext.createGain();
    oscillator.frequency.value = 660;
    gain.gain.setValueAtTime(0.08, audioContext.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audioContext.currentTime + 0.25);
    oscillator.connect(gain).connect(audioContext.destination);
    oscillator.start();
    oscillator.stop(audioContext.currentTime + 0.25);
  } catch {
    // No audio device, or the browser wants a gesture first: the title badge still shows.
  }
}

function attention(kind) {
  if (!document.hidden) return;
  state.unread += 1;
  document.title = `(${state.unread}) ${baseTitle}`;
  beep();
  if (preference(NOTIFY_KEY, false) && "Notification" in window && Notification.permission === "granted") {
    // The text of a line stays in the page: a notification may show on a locked screen.
    const body = { match: "You are now chatting with a stranger.", invite: "A contact invites you to talk.",
      letter: "A contact wrote you a letter." }[kind] || "The stranger wrote to you.";
    const note = new Notification("Strangers", { body, tag: "chat", icon: "/static/favicon.svg" });
    note.onclick = () => { window.focus(); note.close(); };
  }
}

function clearAttention() {
  if (document.hidden) return;
  state.unread = 0;
  document.title = baseTitle;
}

function renderAlertToggles() {
  el.sound.setAttribute("aria-pressed", String(preference(SOUND_KEY, true)));
  el.sound.textContent = preference(SOUND_KEY, true) ? "Sound on" : "Sound off";
  const notifying = preference(NOTIFY_KEY, false) && "Notification" in window && Notification.permission === "granted";
  el.notify.setAttribute("aria-pressed", String(notifying));
  el.notify.textContent = notifying ? "Notifications on" : "Notifications off";
  el.notify.hidden = !("Notification" in window);
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
  if (!state.call) {
    // No call yet: the labels say so instead of repeating the last call's state.
    el.call.dataset.state = "waiting";
    el.callState.textContent = "No call yet";
    el.remotePlaceholder.hidden = false;
    el.remotePlaceholder.textContent = "Waiting for a stranger…";
  }
  showPartnerMedia({ audio: true, video: true });
}

// The partner's microphone and camera as its `media_state` frames say (protocol extension).
function showPartnerMedia({ audio, video }) {
  el.remoteMuted.hidden = audio !== false;
  el.remoteCameraOff.hidden = video !== false || el.call.dataset.mode !== "video";
  el.call.dataset.partnerVideo = video === false ? "off" : "on";
}

function sendMediaState() {
  if (!state.call || state.phase !== "chatting") return;
  state.socket.send({
    type: "media_state",
    audio: el.mute.getAttribute("aria-pressed") !== "true",
    video: el.call.dataset.mode === "video" && el.camera.getAttribute("aria-pressed") !== "true",
  });
}

function hideCallArea() {
  el.call.hidden = true;
  el.call.dataset.state = "none";
  el.callState.textContent = "No call";
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
  sendMediaState();
});
el.camera.addEventListener("click", () => {
  const off = el.camera.getAttribute("aria-pressed") !== "true";
  el.camera.setAttribute("aria-pressed", String(off));
  el.camera.textContent = off ? "Camera on" : "Camera off";
  state.call?.setCameraOff(off);
  sendMediaState();
});

// ---- frames from the server

const ERROR_TEXT = {
  too_long: "That line is too long (at most 2000 characters).",
  bad_frame: "The server did not understand that.",
  already_searching: "Already looking for someone.",
  not_in_conversation: "You are not in a conversation.",
  rules_required: "Accept the community rules above before your first chat.",
};

// Someone who said they think of hurting themselves is offered help, quietly: one notice
// that stays until they close it, seen by them only (docs/protocol-extensions.md, "support").
function showSupport(resources) {
  const links = (Array.isArray(resources) ? resources : [])
    .filter((r) => r && typeof r.name === "string" && /^https:\/\//.test(String(r.url)));
  if (!links.length) return;
  const item = notice("You don't have to go through this alone. People are there to listen: ",
    { sticky: true, key: "support" });
  item.classList.add("support");
  links.forEach((resource, index) => {
    const link = document.createElement("a");
    link.href = resource.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = resource.name;
    item.append(index ? ", " : "", link);
  });
  const close = document.createElement("button");
  close.type = "button";
  close.className = "link";
  close.textContent = "Close";
  close.addEventListener("click", () => item.remove());
  item.append(". ", close);
}

const handlers = {
  welcome(frame) {
    // The server's value, unless the person changed the box on this page before it came.
    if (!state.historyTouched) el.keepHistory.checked = Boolean(frame.keeps_history);
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
    state.searchingSince = Date.now();
    state.queueCount = null;
    setStatus(searchingText());
    if (!el.transcript.children.length) systemLine("Looking for a stranger. This can take a few seconds.");
    showSearchInfo();
    // The box holds the focus while looking: ready the moment someone is found.
    state.focusComposer = true;
  },
  // Extension: how many others look in this mode, sent while searching.
  queue(frame) {
    if (state.phase !== "searching") return;
    const count = Number(frame.searching);
    state.queueCount = Number.isInteger(count) && count >= 0 ? count : null;
    showSearchInfo();
  },
  cancelled() {
    state.phase = "idle";
    state.justLeft = false;
    endCall();
    showSearchInfo();
    setStatus("Stopped looking. Press Start when you are ready.");
  },
  matched(frame) {
    beginConversation(frame);
    startCall(state.conversation, { resumed: false });
    state.focusComposer = true;
    attention("match");
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
    sendMediaState();
    state.focusComposer = true;
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
  media_state(frame) {
    if (state.call) showPartnerMedia({ audio: frame.audio, video: frame.video });
  },
  partner_reconnecting() {
    showTyping(false);
    notice(`${PARTNER} is reconnecting…`, { kind: "warning", sticky: true, key: "partner" });
  },
  partner_back() {
    dismissNotice("partner");
    if (state.call) state.call.renegotiate();
    sendMediaState();
  },
  partner_left(frame) {
    dismissNotice("partner");
    const text = {
      disconnected: `${PARTNER}'s connection was lost. The conversation ended.`,
      blocked: `${PARTNER} ended the conversation.`,
      banned: `${PARTNER} was removed by a moderator. The conversation ended.`,
    }[frame.reason] || `${PARTNER} left the conversation.`;
    endConversation(text);
    attention("line");
  },
  ended() {
    dismissNotice("partner");
    endConversation(state.blocking ? "You blocked the stranger and left the conversation." : "You left the conversation.");
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
    state.blocked = true;
  },
  pong() {},
  support(frame) {
    showSupport(frame.resources);
  },
  banned(frame) {
    endConversation("You are banned.");
    state.phase = "gone";
    const until = frame.until ? `until ${new Date(frame.until).toLocaleString()}` : "with no end date";
    const reason = frame.reason ? ` Reason: ${frame.reason.trim().replace(/[.!?]+$/, "")}.` : "";
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
      // Every refused line goes back into the box, in order, so that nothing typed is lost.
      const text = item.querySelector(".text").textContent;
      el.message.value = el.message.value ? `${el.message.value}\n${text}` : text;
      autoGrow();
      saveDraft();
    }
    if (frame.code === "rules_required") {
      location.reload(); // the page then shows the one-click prompt
      return;
    }
    if (frame.code === "rate_limited") {
      const seconds = Math.ceil(Number(frame.retry_after) || 1);
      state.socket.pauseMs = seconds * 1000;
      if (!refusedLine && state.phase === "ended" && state.choices) {
        // A refused Next/New chat search: look again once allowed, as the person asked.
        setTimeout(() => { if (state.phase === "ended") find(state.choices); }, seconds * 1000 + 100);
      }
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
  if (handler && !keeping.owns(frame)) handler(frame);
  keeping.onFrame(frame); // keep in touch, invitations, letters (keeping.js)
  updateControls();
  if (state.focusComposer) {
    state.focusComposer = false;
    focusComposer();
  }
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
  // Replaced: the newer tab resumes the conversation from the shared storage; keep it there.
  state.replaced = code === CLOSE.REPLACED;
  state.phase = "gone";
  state.conversation = null;
  rememberConversation();
  endCall();
  showTyping(false);
  showSearchInfo();
  dismissNotice("link");
  if (code === CLOSE.REPLACED) {
    setStatus(wasChatting ? "This chat moved to another tab" : "Opened in another tab");
    notice(wasChatting
      ? "Your conversation goes on in the tab you opened last. Reload this page to bring it back here."
      : "Opened in another tab. Chat there, or reload this page to chat here.", { kind: "warning", sticky: true, key: "link" });
    if (wasChatting) systemLine("This chat moved to another tab.");
    updateControls();
    return;
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
  state.historyTouched = true;
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
  if (state.phase === "searching" || state.phase === "chatting" || el.start.disabled) return;
  find(currentChoices());
  focusComposer();
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
el.message.addEventListener("input", () => {
  onComposerInput();
  saveDraft();
});
el.transcript.addEventListener("scroll", () => {
  state.stick = atBottom();
  if (state.stick) {
    state.unseenLines = 0;
    el.newLines.hidden = true;
  }
}, { passive: true });
el.newLines.addEventListener("click", () => {
  scrollToEnd();
  focusComposer();
});

// The page is exactly as tall as what is visible, also with a phone's keyboard open.
function fitViewport() {
  const height = window.visualViewport ? window.visualViewport.height : window.innerHeight;
  document.documentElement.style.setProperty("--app-height", `${Math.round(height)}px`);
  if (state.stick) el.transcript.scrollTop = el.transcript.scrollHeight;
}
(window.visualViewport || window).addEventListener("resize", fitViewport);
fitViewport();

document.addEventListener("visibilitychange", clearAttention);
window.addEventListener("focus", clearAttention);
el.sound.addEventListener("click", () => {
  setPreference(SOUND_KEY, !preference(SOUND_KEY, true));
  renderAlertToggles();
  beep();
});
el.notify.addEventListener("click", async () => {
  if (preference(NOTIFY_KEY, false) && Notification.permission === "granted") {
    setPreference(NOTIFY_KEY, false);
  } else {
    const permission = await Notification.requestPermission();
    setPreference(NOTIFY_KEY, permission === "granted");
    if (permission !== "granted") {
      notice("The browser did not allow notifications. You can allow them in the address bar.", { kind: "warning", key: "notify" });
    }
  }
  renderAlertToggles();
});
// Leaving or reloading: the conversation waits out the grace window for this or another tab.
window.addEventListener("pagehide", () => {
  if (state.phase === "chatting") rememberConversation({ leftAt: Date.now() });
});

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
  // The report is filed first (frames are handled in order), then the chosen way out.
  const after = event.submitter?.value;
  if (after === "block" && !state.blocked) {
    blockPartner();
  } else if (after === "leave" && state.phase === "chatting") {
    endCall();
    state.socket.send({ type: "leave" });
  }
});

let blockArmedUntil = 0;
el.block.addEventListener("click", () => {
  // A second click confirms, so that a slip of the finger does not block someone for good.
  if (Date.now() > blockArmedUntil) {
    blockArmedUntil = Date.now() + 4000;
    el.block.textContent = "Click again to block";
    setTimeout(() => { if (!state.blocked) el.block.textContent = "Block"; }, 4000);
    return;
  }
  blockArmedUntil = 0;
  blockPartner();
});

function blockPartner() {
  el.block.textContent = "Block";
  state.blocking = state.phase === "chatting";
  endCall();
  state.socket.send({ type: "block" });
}

el.keepHistory.addEventListener("change", saveKeepHistory);
// Back on a network: no need to wait out the backoff.
window.addEventListener("online", () => state.socket.retryNow());

fillPracticeChoices();
restoreChoices();
restoreConversation();
restoreDraft();
renderTags();
renderAlertToggles();
updateControls();
state.socket = new LiveSocket(app.dataset.socketPath, { onFrame, onOpen, onDrop, onGiveUp });
const keeping = new Keeping({
  app, send: (frame) => state.socket.send(frame), phase: () => state.phase,
  notice, systemLine, attention,
});
state.socket.connect();
