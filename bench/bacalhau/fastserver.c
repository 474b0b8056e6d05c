/*
 * fastserver: a tiny, fast stand-in for Bacalhau's job submission route, for the benchmark.
 *
 * Why it exists: the release-built bacalhau-emulator spends about 0.35 ms of CPU per PUT
 * (wrk alone gets ~5,800 PUT/s from it using both cores), so on a 2-core machine no client
 * can be measured at 5,000 submissions/s against it. This server spends a few microseconds
 * per request, so what the benchmark measures is the client.
 *
 * One thread, epoll, HTTP/1.1 keep-alive (and pipelining), Content-Length bodies only.
 *
 *   PUT|POST /api/v1/orchestrator/jobs   {"Job":{"Name":...},"Force"?:true}
 *       a new name -> 200 {"JobID":"j-...","EvaluationID":"e-...","Warnings":[]}
 *       a stored name -> 500 "no changes detected ..." exactly as Bacalhau v1.8+ and the
 *       emulator answer it (API.md section 8); with "Force":true -> 200, same JobID.
 *       Unlike Bacalhau, a changed spec under a stored name is also "no changes": the
 *       server keeps names only. Names are compared as they appear in the JSON (escapes kept).
 *   GET /api/v1/orchestrator/jobs/NAME   200 {"Job":{...,"State":{"StateType":"Running"}}} or 404
 *   GET /stats[?prefix=P]                counts, and for names starting with P: how many are
 *                                        stored and how many repeated PUTs they got
 *
 *   cc -O2 -o fastserver fastserver.c && ./fastserver [PORT]   (0 or none: a free port)
 *   prints "listening on 127.0.0.1:PORT"; SIGINT/SIGTERM end it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the job table: open addressing, name -> job number (1-based) and repeat count ---- */

typedef struct {
    char *name;
    size_t len;
    uint64_t number;
    uint64_t repeats;
} Job;

static Job *table;
static size_t capacity = 1 << 16, stored;
static uint64_t requests, created, repeats, forced;

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static Job *slot(Job *t, size_t cap, const char *name, size_t len) {
    size_t i = hash(name, len) & (cap - 1);
    while (t[i].name && !(t[i].len == len && memcmp(t[i].name, name, len) == 0)) i = (i + 1) & (cap - 1);
    return &t[i];
}

static void grow(void) {
    size_t bigger = capacity * 2;
    Job *t = calloc(bigger, sizeof(Job));
    if (!t) { perror("calloc"); exit(1); }
    for (size_t i = 0; i < capacity; i++)
        if (table[i].name) *slot(t, bigger, table[i].name, table[i].len) = table[i];
    free(table);
    table = t;
    capacity = bigger;
}

/* Finds a job, or adds it when `add` (then *isnew = 1). */
static Job *lookup(const char *name, size_t len, int add, int *isnew) {
    *isnew = 0;
    Job *j = slot(table, capacity, name, len);
    if (j->name || !add) return j->name ? j : NULL;
    if ((stored + 1) * 2 > capacity) {
        grow();
        j = slot(table, capacity, name, len);
    }
    j->name = malloc(len + 1);
    if (!j->name) { perror("malloc"); exit(1); }
    memcpy(j->name, name, len);
    j->name[len] = 0;
    j->len = len;
    j->number = ++created;
    stored++;
    *isnew = 1;
    return j;
}

/* ---- a minimal JSON walk: the Job's Name (a key at depth 2 under "Job") and "Force" ---- */

static int key_is(const char *k, size_t n, const char *want) {
    return strlen(want) == n && strncasecmp(k, want, n) == 0; /* Bacalhau matches keys ignoring case */
}

/* Points name and len at the raw string of Job.Name and sets force when Force is true; 0 without a name. */
static int parse_submission(const char *b, size_t n, const char **name, size_t *len, int *force) {
    int depth = 0, expect_key = 0;
    const char *key = NULL, *outer = NULL;
    size_t key_len = 0, outer_len = 0;
    *name = NULL;
    *force = 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (c == '{') { depth++; expect_key = 1; if (depth == 2 && key) { outer = key; outer_len = key_len; } }
        else if (c == '}') depth--;
        else if (c == '[') { depth++; expect_key = 0; }
        else if (c == ']') depth--;
        else if (c == ',') expect_key = 1;
        else if (c == '"') {
            size_t start = ++i;
            while (i < n && b[i] != '"') i += (b[i] == '\\') ? 2 : 1;
            if (i >= n) return 0;
            if (expect_key) { key = b + start; key_len = i - start; expect_key = 0; continue; }
            if (depth == 2 && outer && key_is(outer, outer_len, "Job") && key && key_is(key, key_len, "Name")) {
                *name = b + start;
                *len = i - start;
            }
        } else if (c == 't' && depth == 1 && key && key_is(key, key_len, "Force") && n - i >= 4 && !strncmp(b + i, "true", 4))
            *force = 1;
    }
    return *name != NULL && *len > 0;
}

/* ---- connections ---- */

typedef struct {
    int fd;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_cap, out_sent;
    int close_after;
    int watching_out; /* EPOLLOUT registered: the socket was full */
} Conn;

static void append(Conn *c, const char *data, size_t n) {
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) { perror("realloc"); exit(1); }
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

static void respond(Conn *c, int status, const char *fmt, ...) {
    char body[8192], head[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof body) n = sizeof body - 1;
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 400 ? "Bad Request" : "Internal Server Error";
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n",
                     status, reason, n, c->close_after ? "Connection: close\r\n" : "");
    append(c, head, (size_t)h);
    append(c, body, (size_t)n);
}

static void error_body(Conn *c, int status, const char *code, const char *message) {
    respond(c, status, "{\"Status\":%d,\"Message\":\"%s\",\"RequestID\":\"\",\"Code\":\"%s\",\"Component\":\"APIServer\"}",
            status, message, code);
}

static const char *jobs_path = "/api/v1/orchestrator/jobs";

static void submit(Conn *c, const char *body, size_t n) {
    const char *name;
    size_t len = 0;
    int force, isnew;
    if (!parse_submission(body, n, &name, &len, &force)) {
        error_body(c, 400, "BadRequest", "fastserver: the body has no Job.Name");
        return;
    }
    Job *j = lookup(name, len, 1, &isnew);
    if (isnew || force) {
        if (!isnew) forced++;
        respond(c, 200, "{\"JobID\":\"j-%012llx\",\"EvaluationID\":\"e-%012llx\",\"Warnings\":[]}",
                (unsigned long long)j->number, (unsigned long long)requests);
        return;
    }
    j->repeats++;
    repeats++;
    respond(c, 500,
            "{\"Status\":500,\"Message\":\"no changes detected for new job spec. Job Name: '%s', Job Id: 'j-%012llx'\","
            "\"RequestID\":\"\",\"Code\":\"\",\"Component\":\"Orchestrator\",\"Hint\":\"Use the --force flag to override this warning\"}",
            j->name, (unsigned long long)j->number);
}

static void get_job(Conn *c, const char *name, size_t len) {
    int isnew;
    Job *j = lookup(name, len, 0, &isnew);
    if (!j) {
        error_body(c, 404, "NotFound", "job not found");
        return;
    }
    respond(c, 200,
            "{\"Job\":{\"ID\":\"j-%012llx\",\"Name\":\"%s\",\"Namespace\":\"default\",\"Type\":\"batch\",\"Version\":1,"
            "\"State\":{\"StateType\":\"Running\",\"Message\":\"\"},\"Labels\":{},\"Meta\":{}}}",
            (unsigned long long)j->number, j->name);
}

static void stats(Conn *c, const char *query, size_t qlen) {
    uint64_t with_prefix = 0, prefix_repeats = 0;
    if (qlen > 7 && strncmp(query, "prefix=", 7) == 0) {
        const char *p = query + 7;
        size_t plen = qlen - 7;
        for (size_t i = 0; i < capacity; i++)
            if (table[i].name && table[i].len >= plen && memcmp(table[i].name, p, plen) == 0) {
                with_prefix++;
                prefix_repeats += table[i].repeats;
            }
    }
    respond(c, 200,
            "{\"requests\":%llu,\"created\":%llu,\"repeats\":%llu,\"forced\":%llu,\"stored\":%zu,"
            "\"prefix_stored\":%llu,\"prefix_repeats\":%llu}",
            (unsigned long long)requests, (unsigned long long)created, (unsigned long long)repeats,
            (unsigned long long)forced, stored, (unsigned long long)with_prefix, (unsigned long long)prefix_repeats);
}

/* Handles one complete request: method and target from the request line, then the body. */
static void handle(Conn *c, const char *method, size_t mlen, const char *target, size_t tlen, const char *body,
                   size_t blen) {
    requests++;
    const char *query = memchr(target, '?', tlen);
    size_t plen = query ? (size_t)(query - target) : tlen;
    size_t qlen = query ? tlen - plen - 1 : 0;
    size_t jlen = strlen(jobs_path);
    int is_put = (mlen == 3 && !memcmp(method, "PUT", 3)) || (mlen == 4 && !memcmp(method, "POST", 4));
    int is_get = mlen == 3 && !memcmp(method, "GET", 3);
    if (is_put && plen == jlen && !memcmp(target, jobs_path, jlen))
        submit(c, body, blen);
    else if (is_get && plen > jlen + 1 && !memcmp(target, jobs_path, jlen) && target[jlen] == '/' &&
             !memchr(target + jlen + 1, '/', plen - jlen - 1))
        get_job(c, target + jlen + 1, plen - jlen - 1);
    else if (is_get && plen == 6 && !memcmp(target, "/stats", 6))
        stats(c, query ? query + 1 : "", qlen);
    else
        error_body(c, 404, "NotFound", "route not found");
}

/* Parses and answers every complete request in the buffer; -1 on a malformed one. */
static int process(Conn *c) {
    size_t used = 0;
    for (;;) {
        char *start = c->in + used;
        size_t avail = c->in_len - used;
        char *end = memmem(start, avail, "\r\n\r\n", 4);
        if (!end) break;
        size_t head_len = (size_t)(end - start) + 4;
        char *sp1 = memchr(start, ' ', head_len);
        char *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - start)) : NULL;
        if (!sp1 || !sp2) return -1;
        size_t content_length = 0;
        int http10 = !strncmp(sp2 + 1, "HTTP/1.0", 8);
        c->close_after = http10;
        for (char *line = memchr(start, '\n', head_len); line && line < end; line = memchr(line + 1, '\n', (size_t)(end - line))) {
            line++;
            if (!strncasecmp(line, "Content-Length:", 15)) content_length = strtoul(line + 15, NULL, 10);
            else if (!strncasecmp(line, "Connection:", 11)) {
                const char *v = line + 11;
                while (*v == ' ') v++;
                if (!strncasecmp(v, "close", 5)) c->close_after = 1;
                else if (!strncasecmp(v, "keep-alive", 10)) c->close_after = 0;
            } else if (!strncasecmp(line, "Transfer-Encoding:", 18)) return -1; /* not supported */
        }
        if (avail < head_len + content_length) break;
        handle(c, start, (size_t)(sp1 - start), sp1 + 1, (size_t)(sp2 - sp1 - 1), start + head_len, content_length);
        used += head_len + content_length;
        if (c->close_after) break;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    return 0;
}

static void drop(int ep, Conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Writes what is pending; 1 when all of it went, 0 when the socket is full, -1 on error. */
static int flush(Conn *c) {
    while (c->out_sent < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
        if (w < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        c->out_sent += (size_t)w;
    }
    c->out_len = c->out_sent = 0;
    return 1;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    table = calloc(capacity, sizeof(Job));
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (!table || lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("fastserver");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[256];
    while (!stopping) {
        int n = epoll_wait(ep, events, 256, 500);
        for (int i = 0; i < n; i++) {
            Conn *c = events[i].data.ptr;
            if (!c) { /* the listener: accept everything waiting */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof(Conn));
                    if (!c) { close(fd); continue; }
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (events[i].events & EPOLLIN) {
                for (;;) {
                    if (c->in_cap - c->in_len < 4096) {
                        c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
                        c->in = realloc(c->in, c->in_cap);
                        if (!c->in) { perror("realloc"); return 1; }
                    }
                    ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
                    if (r > 0) { c->in_len += (size_t)r; continue; }
                    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                    c->close_after = 2; /* closed by the peer, or an error */
                    break;
                }
                if (c->close_after == 2 || process(c) < 0) { drop(ep, c); continue; }
            }
            int done = flush(c);
            if (done < 0 || (done == 1 && c->close_after)) { drop(ep, c); continue; }
            if (c->watching_out != !done) { /* only when it changes: a syscall saved per request */
                c->watching_out = !done;
                struct epoll_event cev = {.events = done ? EPOLLIN : EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            }
        }
    }
    return 0;
}
