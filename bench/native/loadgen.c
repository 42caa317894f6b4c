/* The hot loop of bench/loadgen.py: sends and reads the lines of each step on sockets that
 * the Python side has already opened, greeted and paired (their fds are inherited), so that
 * the load generator costs a few microseconds of CPU per line instead of tens.
 *
 * Protocol (stdin, one command a line; stdout, the replies):
 *   fds FD...                        the sockets, in order: sender index i is the i-th fd
 *   step N RATE STARTED END DRAIN CLOSED LINELEN SEED
 *                                    one step (RATE lines/s per side, times on CLOCK_MONOTONIC
 *                                    as Python's time.monotonic()); replies one line
 *                                    "result key=value ..." then the partner latencies, ack
 *                                    latencies and client lags as native doubles (seconds)
 *   quit                             exit (as does the end of stdin)
 * Frames from the server are read all the time (pings answered), also between steps.
 *
 * A frame's arrival time is the kernel's receive timestamp of the socket (SO_TIMESTAMPNS),
 * not the moment this process got round to reading it: latencies are the server's and the
 * network's, whatever the load generator's own scheduling. That lets the worker read in
 * batches: during a step it sleeps BATCH_US (argv[1], microseconds) between its rounds of
 * reading instead of waking for every frame, which on two shared cores saves most of its
 * context switches (and their CPU), when frames come faster than that; a line due to be
 * sent is never held back by the sleep.
 * How late the frames were read is reported (`read_delay`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ACK_TIMEOUT 10.0
#define MAX_EVENTS 256
#define MAX_UNEXPECTED 64

typedef struct { double *v; size_t n, cap; } dvec;
typedef struct { uint8_t *bits; long cap; } bitmap;

typedef struct {
    int fd, closed;
    uint8_t *in; size_t in_len, in_cap;
    uint8_t *out; size_t out_off, out_len, out_cap; int want_out;
    /* as a sender, in the current step */
    long sent, number; int waiting_ack, stopped; double sent_at;
    bitmap received, acked; long received_n, acked_n, last_received;
} conn_t;

static conn_t *conns; static int nconns; static int epfd;
static uint32_t mask_key;
static long batch_ns;

/* the current step */
static int active, closed_loop, sending_done;
static long step_no; static double started, window_end, drain_for, drain_deadline;
static double interval; static int line_length;
static double *offsets; static int *order; static long cursor, round_k;
static dvec partner_lat, ack_lat, client_lag, read_delay;
static long total_sent, total_received, total_acked, duplicated, reordered, ack_duplicated;
static long delivered_in_window, closed_count;
static char unexpected_name[MAX_UNEXPECTED][64]; static long unexpected_count[MAX_UNEXPECTED];
static int n_unexpected;
static char filler[65536];

static double now_s(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) { perror("realloc"); exit(2); }
    return q;
}

static void dpush(dvec *d, double x) {
    if (d->n == d->cap) { d->cap = d->cap ? 2 * d->cap : 4096; d->v = xrealloc(d->v, d->cap * sizeof(double)); }
    d->v[d->n++] = x;
}

/* 1 when `i` was already set */
static int bset(bitmap *b, long i) {
    if (i >= b->cap * 8) {
        long cap = b->cap ? b->cap : 64;
        while (i >= cap * 8) cap *= 2;
        b->bits = xrealloc(b->bits, cap);
        memset(b->bits + b->cap, 0, cap - b->cap);
        b->cap = cap;
    }
    int was = (b->bits[i >> 3] >> (i & 7)) & 1;
    b->bits[i >> 3] |= (uint8_t)(1 << (i & 7));
    return was;
}

static void count_unexpected(const char *name, size_t len) {
    char clean[64]; size_t n = len < 63 ? len : 63;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        clean[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                    || ch == '_' || ch == '-' || ch == '.') ? ch : '_';
    }
    clean[n] = 0;
    for (int i = 0; i < n_unexpected; i++)
        if (!strcmp(unexpected_name[i], clean)) { unexpected_count[i]++; return; }
    if (n_unexpected < MAX_UNEXPECTED) {
        strcpy(unexpected_name[n_unexpected], clean); unexpected_count[n_unexpected++] = 1;
    }
}

/* ---- writing */

static void watch(conn_t *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns) + 1};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = out;
}

static void mark_closed(conn_t *c) {
    if (c->closed) return;
    c->closed = 1; closed_count++;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void flush(conn_t *c) {
    while (c->out_len > c->out_off) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { if (!c->want_out) watch(c, 1); return; }
            mark_closed(c); return;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    if (c->want_out) watch(c, 0);
}

/* One masked client frame: appended behind what is still queued, then written. */
static void send_frame(conn_t *c, int opcode, const char *payload, size_t len) {
    if (c->closed) return;
    size_t need = c->out_len + len + 14;
    if (need > c->out_cap) { c->out_cap = need * 2; c->out = xrealloc(c->out, c->out_cap); }
    uint8_t *p = c->out + c->out_len;
    *p++ = (uint8_t)(0x80 | opcode);
    if (len < 126) *p++ = (uint8_t)(0x80 | len);
    else if (len < 65536) { *p++ = 0x80 | 126; *p++ = (uint8_t)(len >> 8); *p++ = (uint8_t)len; }
    else { *p++ = 0x80 | 127; for (int i = 7; i >= 0; i--) *p++ = (uint8_t)((uint64_t)len >> (8 * i)); }
    uint8_t key[4]; memcpy(key, &mask_key, 4); memcpy(p, key, 4); p += 4;
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)payload[i] ^ key[i & 3];
    c->out_len = (size_t)(p - c->out) + len;
    if (!c->want_out) flush(c);
}

static void send_line(conn_t *c, double due) {
    char payload[70000];
    long seconds = (long)floor(due); long micros = lround((due - seconds) * 1e6);
    if (micros >= 1000000) { seconds++; micros -= 1000000; }
    /* the frame bench/loadgen.py's Python sender sends, byte for byte */
    int n = snprintf(payload, sizeof payload,
                     "{\"type\": \"message\", \"client_id\": \"%ld:%ld\", \"text\": \"%ld:%d:%ld:%ld:%06ld:%s\"}",
                     step_no, c->number, step_no, (int)(c - conns), c->number, seconds, micros, filler);
    send_frame(c, 1, payload, (size_t)n);
    c->sent++; total_sent++; c->number++; c->sent_at = due;
}

/* ---- reading */

/* The string value of "key" in a flat JSON object (no escapes in the values we read). */
static int field(const char *p, size_t len, const char *key, const char **val, size_t *vlen) {
    size_t klen = strlen(key);
    const char *end = p + len, *q = p;
    while ((q = memmem(q, (size_t)(end - q), key, klen)) != NULL) {
        const char *r = q + klen;
        while (r < end && (*r == ' ')) r++;
        if (r < end && *r == ':') {
            r++;
            while (r < end && *r == ' ') r++;
            if (r < end && *r == '"') {
                r++;
                const char *s = memchr(r, '"', (size_t)(end - r));
                if (!s) return 0;
                *val = r; *vlen = (size_t)(s - r); return 1;
            }
            return 0; /* null or another kind */
        }
        q = r;
    }
    return 0;
}

static int parse_long(const char **p, const char *end, char stop, long *out) {
    const char *q = *p; long v = 0; int digits = 0, neg = 0;
    if (q < end && *q == '-') { neg = 1; q++; }
    while (q < end && *q >= '0' && *q <= '9') { v = v * 10 + (*q - '0'); q++; digits++; }
    if (!digits || q >= end || *q != stop) return 0;
    *out = neg ? -v : v; *p = q + 1; return 1;
}

static void on_message(conn_t *c, const char *p, size_t len, double now) {
    const char *text, *from; size_t tlen, flen;
    long step, sender, number, seconds, micros;
    if (!field(p, len, "\"text\"", &text, &tlen)) { count_unexpected("unreadable_line", 15); return; }
    const char *q = text, *end = text + tlen;
    if (!(parse_long(&q, end, ':', &step) && parse_long(&q, end, ':', &sender)
          && parse_long(&q, end, ':', &number) && parse_long(&q, end, ':', &seconds)
          && parse_long(&q, end, ':', &micros))) { count_unexpected("unreadable_line", 15); return; }
    int mine = field(p, len, "\"from\"", &from, &flen) && flen == 2 && !memcmp(from, "me", 2);
    if (mine && c->waiting_ack) {
        /* the next line of the closed loop: due now, when it is sent, not when the ack came */
        double due = now_s();
        c->waiting_ack = 0;
        if (active && closed_loop && !c->stopped && due < window_end) {
            c->waiting_ack = 1; send_line(c, due);
        }
    }
    if (!active || step < step_no) return; /* a late line of a step already reported */
    if (step > step_no || sender < 0 || sender >= nconns) { count_unexpected("unreadable_line", 15); return; }
    double latency = now - (seconds + micros / 1e6);
    conn_t *s = &conns[sender];
    if (mine) {
        if (bset(&s->acked, number)) { ack_duplicated++; return; }
        s->acked_n++; total_acked++;
        dpush(&ack_lat, latency);
    } else {
        if (bset(&s->received, number)) { duplicated++; return; }
        s->received_n++; total_received++;
        if (number < s->last_received) reordered++;
        if (number > s->last_received) s->last_received = number;
        dpush(&partner_lat, latency);
        if (now <= window_end) delivered_in_window++;
    }
}

static void on_text(conn_t *c, const char *p, size_t len, double now) {
    const char *kind; size_t klen;
    if (!field(p, len, "\"type\"", &kind, &klen)) { count_unexpected("None", 4); return; }
#define IS(s) (klen == sizeof(s) - 1 && !memcmp(kind, s, klen))
    if (IS("message")) on_message(c, p, len, now);
    else if (IS("pong") || IS("typing") || IS("welcome") || IS("searching")) return;
    else if (IS("matched")) count_unexpected("matched_twice", 13);
    else if (IS("error")) {
        const char *code; size_t clen;
        if (field(p, len, "\"code\"", &code, &clen)) count_unexpected(code, clen);
        else count_unexpected("None", 4);
    } else count_unexpected(kind, klen);
#undef IS
}

/* The kernel's receive time of the last segment a recvmsg read, on CLOCK_MONOTONIC; 0 if
 * it gave none. */
static double arrival(struct msghdr *mh) {
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_TIMESTAMPNS) continue;
        struct timespec ts, real, mono;
        memcpy(&ts, CMSG_DATA(cm), sizeof ts);
        clock_gettime(CLOCK_REALTIME, &real); clock_gettime(CLOCK_MONOTONIC, &mono);
        return (double)(ts.tv_sec - real.tv_sec + mono.tv_sec)
               + (double)(ts.tv_nsec - real.tv_nsec + mono.tv_nsec) / 1e9;
    }
    return 0;
}

static void on_readable(conn_t *c) {
    double arrived = 0;
    for (;;) {
        if (c->in_cap - c->in_len < 4096) { c->in_cap = c->in_cap ? 2 * c->in_cap : 16384; c->in = xrealloc(c->in, c->in_cap); }
        struct iovec iov = {c->in + c->in_len, c->in_cap - c->in_len};
        char control[128];
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                            .msg_controllen = sizeof control};
        ssize_t r = recvmsg(c->fd, &mh, 0);
        if (r < 0) { if (errno == EINTR) continue; if (errno == EAGAIN) break; mark_closed(c); return; }
        if (r == 0) { mark_closed(c); return; }
        double at = arrival(&mh);
        if (at > 0) arrived = at;
        c->in_len += (size_t)r;
        if ((size_t)r < c->in_cap - c->in_len + (size_t)r) break; /* drained the socket */
    }
    double read_at = now_s();
    /* Frames that came in several segments carry the last one's time: at most the read's. */
    double now = arrived > 0 && arrived <= read_at ? arrived : read_at;
    if (active) dpush(&read_delay, read_at - now);
    size_t off = 0;
    while (c->in_len - off >= 2) {
        uint8_t *h = c->in + off; size_t avail = c->in_len - off;
        int opcode = h[0] & 0x0f, masked = h[1] & 0x80; uint64_t plen = h[1] & 0x7f; size_t hl = 2;
        if (plen == 126) { if (avail < 4) break; plen = ((uint64_t)h[2] << 8) | h[3]; hl = 4; }
        else if (plen == 127) { if (avail < 10) break; plen = 0; for (int i = 0; i < 8; i++) plen = (plen << 8) | h[2 + i]; hl = 10; }
        if (masked) hl += 4;
        if (avail < hl + plen) break;
        char *payload = (char *)h + hl;
        if (masked) for (uint64_t i = 0; i < plen; i++) payload[i] ^= h[hl - 4 + (i & 3)];
        if (opcode == 1) on_text(c, payload, plen, now);
        else if (opcode == 9) send_frame(c, 0xA, payload, plen);
        else if (opcode == 8) { mark_closed(c); return; }
        else if (opcode != 0xA) count_unexpected("binary_or_fragment", 18);
        off += hl + plen;
    }
    if (off) { memmove(c->in, c->in + off, c->in_len - off); c->in_len -= off; }
}

/* ---- steps */

static uint64_t rng;
static double uniform01(void) { /* xorshift64*: offsets need no quality beyond spread */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int by_offset(const void *a, const void *b) {
    double x = offsets[*(const int *)a], y = offsets[*(const int *)b];
    return (x > y) - (x < y);
}

static void start_step(long number, double rate, double start, double end, double drain,
                       int closed, int length, uint64_t seed) {
    active = 1; closed_loop = closed; sending_done = 0; step_no = number;
    started = start; window_end = end; drain_for = drain; drain_deadline = 0;
    interval = rate > 0 ? 1.0 / rate : 1e9;
    line_length = length < 1 ? 1 : (length > 65000 ? 65000 : length);
    memset(filler, 'x', (size_t)line_length); filler[line_length] = 0;
    rng = seed ? seed : 88172645463325252ULL;
    partner_lat.n = ack_lat.n = client_lag.n = read_delay.n = 0;
    total_sent = total_received = total_acked = duplicated = reordered = ack_duplicated = 0;
    delivered_in_window = 0;
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        c->sent = c->number = 0; c->waiting_ack = 0; c->stopped = 0;
        c->received_n = c->acked_n = 0; c->last_received = -1;
        if (c->received.bits) memset(c->received.bits, 0, (size_t)c->received.cap);
        if (c->acked.bits) memset(c->acked.bits, 0, (size_t)c->acked.cap);
        offsets[i] = uniform01() * interval;
        order[i] = i;
    }
    /* Every side sends at offset + k * interval, offset < interval: in offset order, round
     * after round, the due times of all sides form one sorted sequence. */
    qsort(order, (size_t)nconns, sizeof(int), by_offset);
    cursor = 0; round_k = 0;
}

static double next_due(void) {
    return started + offsets[order[cursor]] + (double)round_k * interval;
}

static void send_due(double now) {
    if (sending_done || now < started) return;
    if (closed_loop) {
        for (int i = 0; i < nconns; i++) {
            conn_t *c = &conns[i];
            if (c->closed || c->stopped) continue;
            if (c->waiting_ack) {
                if (now - c->sent_at > ACK_TIMEOUT) c->stopped = 1;
            } else if (c->sent == 0 && now < window_end) {
                c->waiting_ack = 1; send_line(c, now);
            }
        }
        if (now >= window_end) sending_done = 1;
        return;
    }
    while (!sending_done) {
        double due = next_due();
        if (due >= window_end) { sending_done = 1; break; }
        if (due > now) break;
        conn_t *c = &conns[order[cursor]];
        if (!c->closed) {
            dpush(&client_lag, now - due > 0 ? now - due : 0.0);
            send_line(c, due);
        }
        if (++cursor == nconns) { cursor = 0; round_k++; }
    }
}

static int complete(void) {
    if (total_received < total_sent || total_acked < total_sent) return 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i].received_n < conns[i].sent || conns[i].acked_n < conns[i].sent) return 0;
    return 1;
}

static void write_all(const void *p, size_t n) {
    const char *q = p;
    while (n) {
        ssize_t w = write(1, q, n);
        if (w < 0) { if (errno == EINTR) continue; exit(3); }
        q += w; n -= (size_t)w;
    }
}

static void finish_step(void) {
    char head[8192]; int n = snprintf(head, sizeof head,
        "result sent=%ld received=%ld acked=%ld duplicated=%ld reordered=%ld ack_duplicated=%ld "
        "delivered_in_window=%ld closed=%ld partner=%zu ack=%zu lag=%zu read_delay=%zu unexpected=",
        total_sent, total_received, total_acked, duplicated, reordered, ack_duplicated,
        delivered_in_window, closed_count, partner_lat.n, ack_lat.n, client_lag.n, read_delay.n);
    for (int i = 0; i < n_unexpected && n < (int)sizeof head - 100; i++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s%s:%ld", i ? "," : "", unexpected_name[i], unexpected_count[i]);
    head[n++] = '\n';
    write_all(head, (size_t)n);
    write_all(partner_lat.v, partner_lat.n * sizeof(double));
    write_all(ack_lat.v, ack_lat.n * sizeof(double));
    write_all(client_lag.v, client_lag.n * sizeof(double));
    write_all(read_delay.v, read_delay.n * sizeof(double));
    active = 0;
}

static void check_step(double now) {
    if (!active) return;
    send_due(now);
    if (now < window_end || !sending_done) return;
    if (drain_deadline == 0) drain_deadline = now + drain_for;
    int all_closed = 1;
    for (int i = 0; i < nconns && all_closed; i++) all_closed = conns[i].closed;
    if (complete() || all_closed || now >= drain_deadline) finish_step();
}

/* the next moment something is due: a line, the end of the window or of the drain */
static double next_wake(double now) {
    double at = now + 0.1; /* the closed loop's ack timeouts are looked at this often */
    if (active) {
        if (now < started) at = started;
        else if (!closed_loop && !sending_done) { double d = next_due(); if (d < at) at = d; }
        if (now < window_end && window_end < at) at = window_end;
        if (drain_deadline && drain_deadline < at) at = drain_deadline;
    }
    return at;
}

/* Frames ready now, or the first to come before `until` (nanosecond timeout: a line due in
 * 40 us is sent then, not at the next millisecond). */
static int wait_events(struct epoll_event *events, double until) {
    static int no_pwait2;
    double left = until - now_s();
    if (left < 0) left = 0;
    if (!no_pwait2) {
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        int n = epoll_pwait2(epfd, events, MAX_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        no_pwait2 = 1; /* a kernel before 5.11 */
    }
    return epoll_wait(epfd, events, MAX_EVENTS, (int)ceil(left * 1000));
}

/* ---- commands */

static char cmd[1 << 20]; static size_t cmd_len;

static void on_command(char *line) {
    if (!strncmp(line, "fds", 3)) {
        char *p = line + 3; int cap = 0;
        for (;;) {
            char *e; long fd = strtol(p, &e, 10);
            if (e == p) break;
            p = e;
            if (nconns == cap) { cap = cap ? 2 * cap : 256; conns = xrealloc(conns, (size_t)cap * sizeof *conns); }
            conn_t *c = &conns[nconns]; memset(c, 0, sizeof *c);
            c->fd = (int)fd; c->last_received = -1;
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
            int one = 1;
            setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)nconns + 1};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) { perror("epoll_ctl"); exit(2); }
            nconns++;
        }
        offsets = xrealloc(offsets, (size_t)nconns * sizeof(double));
        order = xrealloc(order, (size_t)nconns * sizeof(int));
        write_all("ready\n", 6);
    } else if (!strncmp(line, "step ", 5)) {
        long number; double rate, start, end, drain; int closed, length; unsigned long long seed;
        if (sscanf(line + 5, "%ld %lf %lf %lf %lf %d %d %llu", &number, &rate, &start, &end, &drain,
                   &closed, &length, &seed) != 8) { fprintf(stderr, "bad step: %s\n", line); exit(2); }
        start_step(number, rate, start, end, drain, closed, length, seed);
    } else if (!strncmp(line, "quit", 4)) {
        exit(0);
    }
}

static void on_stdin(void) {
    ssize_t r = read(0, cmd + cmd_len, sizeof cmd - 1 - cmd_len);
    if (r <= 0) { if (r < 0 && errno == EINTR) return; exit(0); }
    cmd_len += (size_t)r;
    char *nl;
    while ((nl = memchr(cmd, '\n', cmd_len)) != NULL) {
        *nl = 0;
        on_command(cmd);
        size_t used = (size_t)(nl - cmd) + 1;
        memmove(cmd, nl + 1, cmd_len - used); cmd_len -= used;
    }
}

/* Sleep up to the batch time, but not past the next line due (nor the step's start or end).
 * Only when frames come in faster than that (the last wait was shorter): sparse ones would
 * each cost a second wake-up for nothing. */
static void batch_pause(double waited) {
    if (!active || batch_ns <= 0 || waited >= batch_ns / 1e9) return;
    double now = now_s(), until = now + batch_ns / 1e9;
    if (now < started) until = started < until ? started : until;
    else if (!closed_loop && !sending_done) { double d = next_due(); if (d < until) until = d; }
    if (now < window_end && window_end < until) until = window_end;
    if (until <= now) return;
    struct timespec ts = {(time_t)(until - now), (long)((until - now - (double)(time_t)(until - now)) * 1e9)};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* lines are sent on time to the microsecond, not within the default 50 us of slack */
    prctl(PR_SET_TIMERSLACK, 1000UL);
    batch_ns = argc > 1 ? atol(argv[1]) * 1000L : 0;
    signal(SIGPIPE, SIG_IGN);
    uint64_t seed = (uint64_t)now_s() * 1000003u ^ (uint64_t)getpid();
    mask_key = (uint32_t)(seed * 2654435761u) | 1u;
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        double before = now_s();
        int n = wait_events(events, next_wake(before));
        double waited = now_s() - before;
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 2; }
        for (int i = 0; i < n; i++) {
            uint32_t id = events[i].data.u32;
            if (id == 0) on_stdin();
            else {
                conn_t *c = &conns[id - 1];
                if (c->closed) continue;
                if (events[i].events & EPOLLOUT) flush(c);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
            }
        }
        check_step(now_s());
        batch_pause(waited);
    }
}
