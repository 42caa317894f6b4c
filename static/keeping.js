// Keeping in touch on the chat page (PROTOCOL.md section 5): the "Keep in touch" button (also
// after the conversation ended, until the next match), the other side's offer, invitations to
// talk now (Accept / Decline, or Withdraw for one's own), and letters that arrive meanwhile.
//
// chat.js owns the socket and the conversation; it hands every frame to `onFrame` after its own
// handler, and asks `owns` first so that this module's frames and errors are handled here only.

const OWN_FRAMES = new Set([
  "keep_in_touch_sent", "keep_in_touch_offered", "contact_added", "inviting", "invited",
  "invite_declined", "invite_cancelled", "invite_expired", "contact_presence",
  "contact_removed", "letter",
]);
const OWN_ERRORS = new Set([
  "account_required", "not_a_contact", "contact_offline", "contact_busy", "invitation_gone",
]);
const MODE_TEXT = { text: "text chat", voice: "voice call", video: "video call" };

export class Keeping {
  // `send(frame)` sends on the live socket; `phase()` is chat.js's phase; `notice(text, opts)`
  // and `systemLine(text, kind)` show things; `attention(kind)` badges a hidden tab and beeps.
  constructor({ app, send, phase, notice, systemLine, attention }) {
    this.app = app;
    this.send = send;
    this.phase = phase;
    this.notice = notice;
    this.systemLine = systemLine;
    this.attention = attention;
    this.button = document.getElementById("keep-in-touch");
    this.panel = document.getElementById("keeping");
    this.guest = app.dataset.guest === "true";
    this.claimUrl = app.dataset.settingsUrl;
    this.available = false; // a current or last partner to ask about
    this.asked = false;
    this.connectedTo = null; // the handle of a contact just made
    this.partnerHandle = "";
    this.outgoing = null; // { invitation, contact, handle, mode }
    this.answering = null; // the invitation id of the last Accept
    this.pendingInvite = this.inviteFromAddress();
    this.handles = new Map(); // contact id -> handle, from /contacts/ (for the inviter's view)
    this.button.addEventListener("click", () => this.askToKeepInTouch());
    this.render();
  }

  owns(frame) {
    if (frame.type === "error") {
      return OWN_ERRORS.has(frame.code) || (frame.code === "already_searching" && this.answering !== null);
    }
    return OWN_FRAMES.has(frame.type);
  }

  onFrame(frame) {
    if (frame.type === "error" && !this.owns(frame)) {
      // Too late to ask about the last partner (the window closed or either met someone).
      if (frame.code === "not_in_conversation" && this.phase() !== "chatting") this.available = false;
    } else {
      const handler = this[`on_${frame.type}`];
      if (handler) handler.call(this, frame);
    }
    this.render();
  }

  // ---- the button and the offer

  askToKeepInTouch() {
    if (this.send({ type: "keep_in_touch" })) this.button.disabled = true;
  }

  render() {
    const phase = this.phase();
    const show = this.available && ["chatting", "ended", "searching"].includes(phase);
    this.button.hidden = !show;
    if (this.connectedTo) {
      this.button.textContent = "Contacts ✓";
      this.button.disabled = true;
    } else if (this.asked) {
      this.button.textContent = "Asked ✓";
      this.button.disabled = true;
      this.button.title = "If they press it too, you become contacts. Nobody is told otherwise.";
    } else {
      this.button.textContent = "Keep in touch";
      this.button.disabled = false;
      this.button.title = "Ask to meet this person again; only if both of you ask";
    }
  }

  on_welcome() {
    if (this.pendingInvite) {
      const { contact, mode } = this.pendingInvite;
      this.pendingInvite = null;
      this.send({ type: "invite", contact, mode });
      this.outgoing = { invitation: null, contact, handle: "", mode };
      this.loadHandles();
    }
  }

  on_matched(frame) {
    // A new conversation: whatever was asked about the last one is over.
    this.available = true;
    this.asked = false;
    this.connectedTo = null;
    this.partnerHandle = frame.partner?.handle || "";
    this.clearOffer();
    this.removeCard("outgoing");
    this.outgoing = null;
    this.answering = null;
    if (frame.direct) this.connectedTo = this.partnerHandle;
  }

  on_resumed(frame) {
    this.available = true;
    this.partnerHandle = frame.partner?.handle || this.partnerHandle;
    if (frame.direct) this.connectedTo = this.partnerHandle;
  }

  // A block or a report cancels asking; the button goes with it.
  on_blocked() {
    this.available = false;
    this.clearOffer();
  }

  on_reported() {
    this.on_blocked();
  }

  on_keep_in_touch_sent() {
    this.asked = true;
    if (!this.connectedTo) {
      this.systemLine("You asked to keep in touch. If they ask too, you become contacts.");
    }
  }

  on_keep_in_touch_offered(frame) {
    this.clearOffer();
    const item = this.systemLine("", "system offer");
    item.id = "keep-offer";
    item.append(`${frame.handle} would like to keep in touch `);
    const answer = document.createElement("button");
    answer.type = "button";
    answer.className = "small primary";
    answer.textContent = "Keep in touch";
    answer.addEventListener("click", () => {
      if (this.send({ type: "keep_in_touch" })) answer.disabled = true;
    });
    item.append(answer);
    if (this.guest) item.append(" ", this.claimLink());
    this.available = true;
    this.attention("line");
  }

  on_contact_added(frame) {
    this.clearOffer();
    this.asked = true;
    this.connectedTo = frame.contact.handle;
    const item = this.systemLine(`You and ${frame.contact.handle} are now contacts. `, "system success");
    const link = document.createElement("a");
    link.href = "/contacts/";
    link.textContent = "Your contacts";
    item.append(link);
  }

  clearOffer() {
    document.getElementById("keep-offer")?.remove();
  }

  claimLink() {
    const link = document.createElement("a");
    link.href = this.claimUrl;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Guests cannot keep in touch: set a password to keep your account (new tab), then answer here";
    return link;
  }

  // ---- invitations

  inviteFromAddress() {
    const params = new URLSearchParams(location.search);
    const contact = params.get("invite");
    if (!contact) return null;
    const mode = ["text", "voice", "video"].includes(params.get("mode")) ? params.get("mode") : "text";
    // A reload must not invite again.
    history.replaceState(null, "", location.pathname);
    return { contact, mode };
  }

  async loadHandles() {
    try {
      const response = await fetch("/contacts/?format=json", { headers: { Accept: "application/json" } });
      const { contacts } = await response.json();
      for (const contact of contacts) this.handles.set(contact.id, contact.handle);
    } catch {
      return; // the card says "your contact" instead
    }
    if (this.outgoing) {
      this.outgoing.handle = this.handles.get(this.outgoing.contact) || "";
      if (this.outgoing.invitation) this.showOutgoing();
    }
  }

  contactName(contactId) {
    return this.handles.get(contactId) || this.outgoing?.handle || "Your contact";
  }

  on_inviting(frame) {
    if (!this.outgoing) return;
    this.outgoing.invitation = frame.invitation;
    this.showOutgoing();
  }

  showOutgoing() {
    const { handle, mode, invitation } = this.outgoing;
    const card = this.card("outgoing", `Inviting ${handle || "your contact"} to a ${MODE_TEXT[mode]}… `);
    card.append(this.action("Withdraw", "", () => {
      this.send({ type: "cancel_invite", invitation });
    }));
  }

  on_invited(frame) {
    const card = this.card(`invite-${frame.invitation}`,
      `${frame.handle} invites you to a ${MODE_TEXT[frame.mode] || "chat"} `, "invitation");
    card.append(
      this.action("Accept", "primary", () => {
        this.answering = frame.invitation;
        this.send({ type: "accept", invitation: frame.invitation });
      }),
      this.action("Decline", "", () => {
        this.send({ type: "decline", invitation: frame.invitation });
        card.remove();
      }),
    );
    this.attention("invite");
  }

  on_invite_declined(frame) {
    this.endOutgoing(frame.invitation, `${this.contactName(this.outgoing?.contact)} cannot talk now.`);
  }

  on_invite_expired(frame) {
    this.removeCard(`invite-${frame.invitation}`);
    this.endOutgoing(frame.invitation, `No answer from ${this.contactName(this.outgoing?.contact)}.`);
  }

  on_invite_cancelled(frame) {
    if (this.removeCard(`invite-${frame.invitation}`)) {
      this.notice("The invitation was withdrawn.", { kind: "info" });
    }
    this.endOutgoing(frame.invitation, "");
  }

  endOutgoing(invitation, text) {
    if (!this.outgoing || this.outgoing.invitation !== invitation) return;
    this.outgoing = null;
    this.removeCard("outgoing");
    if (text) this.notice(text, { kind: "warning" });
  }

  on_contact_removed(frame) {
    if (this.outgoing?.contact === frame.contact) {
      this.outgoing = null;
      this.removeCard("outgoing");
    }
  }

  on_contact_presence() {
    // The contacts page shows who is online; the chat page stays quiet about it.
  }

  on_letter(frame) {
    const item = this.notice("New letter from a contact. ", { kind: "info", sticky: true, key: `letter-${frame.contact}` });
    const link = document.createElement("a");
    link.href = `/contacts/${frame.contact}/`;
    link.textContent = "Read it";
    item.append(link);
    this.attention("letter");
  }

  on_error(frame) {
    const name = this.outgoing ? this.contactName(this.outgoing.contact) : "Your contact";
    const text = {
      account_required: null,
      not_a_contact: "That person is not one of your contacts.",
      contact_offline: `${name} is not online right now. Write a letter instead.`,
      contact_busy: `${name} is in a conversation. Try again in a while.`,
      invitation_gone: "That invitation was already answered, withdrawn or expired.",
      already_searching: "Leave your conversation first.",
    }[frame.code];
    if (frame.code === "account_required") {
      const item = this.notice("", { kind: "warning", sticky: true, key: "claim" });
      item.append(this.claimLink());
      this.button.disabled = false;
      return;
    }
    if (["not_a_contact", "contact_offline", "contact_busy"].includes(frame.code) && this.outgoing && !this.outgoing.invitation) {
      const contact = this.outgoing.contact;
      this.outgoing = null;
      const item = this.notice(`${text} `, { kind: "warning", sticky: true, key: "invite" });
      if (frame.code === "contact_offline") {
        const link = document.createElement("a");
        link.href = `/contacts/${contact}/`;
        link.textContent = "Write a letter";
        item.append(link);
      }
      return;
    }
    if (frame.code === "invitation_gone" || frame.code === "already_searching") {
      if (this.answering) this.removeCard(`invite-${this.answering}`);
      this.answering = null;
    }
    this.notice(text || frame.detail || "Something went wrong.", { kind: "warning" });
  }

  // ---- cards in the panel above the transcript

  card(key, text, kind = "outgoing") {
    this.removeCard(key);
    const card = document.createElement("div");
    card.className = `keeping-card ${kind}`;
    card.dataset.key = key;
    card.setAttribute("role", kind === "invitation" ? "alert" : "status");
    card.append(text);
    this.panel.append(card);
    return card;
  }

  removeCard(key) {
    const card = this.panel.querySelector(`[data-key="${key}"]`);
    card?.remove();
    return Boolean(card);
  }

  action(label, kind, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `small ${kind}`.trim();
    button.textContent = label;
    button.addEventListener("click", onClick);
    return button;
  }
}
