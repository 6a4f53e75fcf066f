/* The floor for `make bench milter`: a milter that speaks the protocol and does nothing else.
 *
 * It parses no message and decides nothing; it negotiates the same steps and no-reply flags as
 * zegel (NR for connect, HELO, MAIL, RCPT, headers, end of headers and body; no DATA, no
 * unknown commands), answers end of message with one inserted header (so Postfix edits the
 * queue file as it does for a real verifier) and "continue". It asks for no macro list, so
 * Postfix sends its default macros (a few more bytes per session than zegel's short lists).
 * What a Postfix run through it costs is what any milter costs that Postfix: the ceiling for
 * every real one.
 *
 * One thread, epoll, non-blocking sockets. Not for production: no limits beyond a fixed
 * buffer per connection, replies written without waiting for room (they are a few bytes).
 *
 * usage: nullmilter unix:/path/to/socket | inet:127.0.0.1:PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD 4096
#define BUFFER (1 << 20) /* above Postfix's 64 KiB body chunks */

/* libmilter's mfapi.h values */
#define SMFIF_ADDHDRS 0x01u
#define SMFIF_CHGHDRS 0x10u
#define SMFIP_NR_HDR 0x80u
#define SMFIP_NOUNKNOWN 0x100u
#define SMFIP_NODATA 0x200u
#define SMFIP_NR_CONN 0x1000u
#define SMFIP_NR_HELO 0x2000u
#define SMFIP_NR_MAIL 0x4000u
#define SMFIP_NR_RCPT 0x8000u
#define SMFIP_NR_DATA 0x10000u
#define SMFIP_NR_UNKN 0x20000u
#define SMFIP_NR_EOH 0x40000u
#define SMFIP_NR_BODY 0x80000u
#define SMFIP_HDR_LEADSPC 0x100000u

static const uint32_t wanted_actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
static const uint32_t wanted_protocol = SMFIP_NODATA | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_HELO
    | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;

struct connection {
    unsigned char *data;
    size_t length;
    uint32_t protocol; /* agreed no-reply flags */
};

static struct connection connections[MAX_FD];

static void put32(unsigned char *at, uint32_t value) {
    value = htonl(value);
    memcpy(at, &value, 4);
}

static uint32_t get32(const unsigned char *at) {
    uint32_t value;
    memcpy(&value, at, 4);
    return ntohl(value);
}

static void reply(unsigned char *out, size_t *used, char code, const void *data, uint32_t size) {
    put32(out + *used, size + 1);
    out[*used + 4] = (unsigned char)code;
    if (size) memcpy(out + *used + 5, data, size);
    *used += 5 + size;
}

static int wants_reply(char command, uint32_t protocol) {
    switch (command) {
    case 'C': return !(protocol & SMFIP_NR_CONN);
    case 'H': return !(protocol & SMFIP_NR_HELO);
    case 'M': return !(protocol & SMFIP_NR_MAIL);
    case 'R': return !(protocol & SMFIP_NR_RCPT);
    case 'T': return !(protocol & SMFIP_NR_DATA);
    case 'L': return !(protocol & SMFIP_NR_HDR);
    case 'N': return !(protocol & SMFIP_NR_EOH);
    case 'B': return !(protocol & SMFIP_NR_BODY);
    case 'U': return !(protocol & SMFIP_NR_UNKN);
    default: return 0; /* macros, abort, quit-new-connection: never answered */
    }
}

static int write_all(int fd, const unsigned char *data, size_t size) {
    while (size) {
        ssize_t written = write(fd, data, size);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

/* The complete packets in the connection's buffer: 0 to go on, -1 to close. */
static int serve(int fd, struct connection *conn) {
    static const unsigned char header[] = "\0\0\0\0Authentication-Results\0 null.test; none\0";
    unsigned char out[4096];
    size_t used = 0, at = 0;
    int quit = 0;
    while (!quit && conn->length - at >= 4) {
        uint32_t size = get32(conn->data + at);
        if (size == 0 || size > BUFFER - 4) return -1;
        if (conn->length - at < 4 + size) break;
        char command = (char)conn->data[at + 4];
        const unsigned char *payload = conn->data + at + 5;
        if (command == 'O') {
            if (size < 13) return -1;
            uint32_t version = get32(payload), actions = get32(payload + 4), protocol = get32(payload + 8);
            unsigned char answer[12];
            conn->protocol = wanted_protocol & protocol;
            put32(answer, version < 6 ? version : 6);
            put32(answer + 4, wanted_actions & actions);
            put32(answer + 8, conn->protocol);
            reply(out, &used, 'O', answer, sizeof answer);
        } else if (command == 'E') {
            reply(out, &used, 'i', header, sizeof header - 1); /* index 0, name, value */
            reply(out, &used, 'c', NULL, 0);
        } else if (command == 'Q') {
            quit = 1;
        } else if (wants_reply(command, conn->protocol)) {
            reply(out, &used, 'c', NULL, 0);
        }
        at += 4 + size;
        if (used > sizeof out - 256) {
            if (write_all(fd, out, used) < 0) return -1;
            used = 0;
        }
    }
    if (used && write_all(fd, out, used) < 0) return -1;
    memmove(conn->data, conn->data + at, conn->length - at);
    conn->length -= at;
    return quit ? -1 : 0;
}

static int listen_on(const char *spec) {
    int fd;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        strncpy(address.sun_path, spec + 5, sizeof address.sun_path - 1);
        unlink(address.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) < 0) return -1;
        chmod(address.sun_path, 0666);
    } else if (strncmp(spec, "inet:", 5) == 0) {
        char host[256];
        snprintf(host, sizeof host, "%s", spec + 5);
        char *colon = strrchr(host, ':');
        if (colon == NULL) return -1;
        *colon = '\0';
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
        if (inet_pton(AF_INET, host, &address.sin_addr) != 1) return -1;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int on = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0
            || bind(fd, (struct sockaddr *)&address, sizeof address) < 0)
            return -1;
    } else {
        errno = EINVAL;
        return -1;
    }
    return listen(fd, 512) < 0 ? -1 : fd;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: nullmilter unix:/path | inet:HOST:PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on(argv[1]);
    if (listener < 0) {
        perror(argv[1]);
        return 1;
    }
    int poll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event ready[64];
    for (;;) {
        int count = epoll_wait(poll, ready, 64, -1);
        if (count < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client >= MAX_FD) {
                        close(client);
                        continue;
                    }
                    int on = 1;
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* fails harmlessly on unix */
                    if (connections[client].data == NULL && (connections[client].data = malloc(BUFFER)) == NULL) {
                        close(client);
                        continue;
                    }
                    connections[client].length = 0;
                    connections[client].protocol = 0;
                    struct epoll_event readable = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(poll, EPOLL_CTL_ADD, client, &readable);
                }
                continue;
            }
            struct connection *conn = &connections[fd];
            ssize_t got = read(fd, conn->data + conn->length, BUFFER - conn->length);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got > 0) conn->length += (size_t)got;
            if (got <= 0 || serve(fd, conn) < 0 || conn->length == BUFFER) {
                epoll_ctl(poll, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                conn->length = 0;
            }
        }
    }
}
