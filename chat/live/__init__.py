"""The live socket's handlers (PROTOCOL.md section 2), routed by `chat.consumers.ChatConsumer`.

`socket` holds one socket's own state, `conversation` owns one side's live conversation, and
each other module handles a group of frames and channel events through its `FRAMES` and
`EVENTS` tables: `searching`, `lines`, `safety`, `resume`, `ending` and, for section 5,
`contacts` (whose rules are in the `chat.contacts` app, which never imports the socket).
"""
