/* The milter benchmark's SMTP load generator: SESSIONS concurrent clients, one SMTP session
 * per message, the dialogue smtplib has (EHLO, MAIL, RCPT, DATA, QUIT), sending the messages
 * of FILE in turn from the address SOURCE.
 *
 * Why C: the load generator shares the two cores with Postfix and the milter under test, and
 * on a real MX the clients are other machines. Twenty Python threads with smtplib spent about
 * 0.5 ms of CPU per message there, a seventh of what the machine did per message, and that
 * share is taken from every contender alike, which pulls every ratio towards 1. This client
 * spends a few microseconds per message. It is a bench tool, never part of zegel.
 *
 * FILE holds the messages as DATA payloads, each preceded by its length in decimal and a
 * newline: "<length>\n<payload>", the payload already in CRLF lines, dot-stuffed, and ending
 * in CRLF "." CRLF.
 *
 * Prints "sent N failed M" on stdout; the first failures, one line each, on stderr.
 * Build: cc -O2 -pthread -o smtpload smtpload.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

struct message {
    const char *data;
    size_t length;
};

static struct message *messages;
static size_t message_count;
static atomic_size_t next_message;
static atomic_size_t sent, failed;
static atomic_int reported;
static struct sockaddr_in server, source;
static const char *helo, *mail_from, *rcpt_to;

#define REPORT_AT_MOST 5

static void report(size_t index, const char *format, ...) {
    if (atomic_fetch_add(&reported, 1) >= REPORT_AT_MOST)
        return;
    char line[600];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    fprintf(stderr, "smtpload: message %zu: %s\n", index, line);
}

struct reader {
    int fd;
    char buffer[4096];
    size_t start, end;
};

/* One reply, possibly of several lines; its code, or -1 when the connection failed.
 * The last line goes to `last` for the failure report. */
static int read_reply(struct reader *in, char *last, size_t last_size) {
    char line[512];
    size_t used = 0;
    for (;;) {
        if (in->start == in->end) {
            ssize_t got = recv(in->fd, in->buffer, sizeof in->buffer, 0);
            if (got <= 0) {
                snprintf(last, last_size, "connection %s", got == 0 ? "closed" : strerror(errno));
                return -1;
            }
            in->start = 0;
            in->end = (size_t)got;
        }
        char c = in->buffer[in->start++];
        if (c != '\n') {
            if (used < sizeof line - 1)
                line[used++] = c;
            continue;
        }
        if (used && line[used - 1] == '\r')
            used--;
        line[used] = 0;
        if (used < 3)
            return -1;
        if (used == 3 || line[3] == ' ') {
            snprintf(last, last_size, "%s", line);
            return atoi(line);
        }
        used = 0; /* "250-..." continues */
    }
}

static int send_all(int fd, const char *data, size_t length) {
    while (length) {
        ssize_t put = send(fd, data, length, MSG_NOSIGNAL);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += put;
        length -= (size_t)put;
    }
    return 0;
}

static int command(struct reader *in, const char *text, int expect, char *last, size_t last_size) {
    if (send_all(in->fd, text, strlen(text)) < 0) {
        snprintf(last, last_size, "send: %s", strerror(errno));
        return -1;
    }
    int code = read_reply(in, last, last_size);
    return code == expect ? 0 : -1;
}

static int one_session(size_t index, char *last, size_t last_size) {
    struct reader *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(last, last_size, "out of memory");
        return -1;
    }
    int result = -1;
    in->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval timeout = {.tv_sec = 120};
    int one = 1;
    char text[600];
    if (in->fd < 0) {
        snprintf(last, last_size, "socket: %s", strerror(errno));
        goto done;
    }
    setsockopt(in->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(in->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    setsockopt(in->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(in->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(in->fd, (struct sockaddr *)&source, sizeof source) < 0 ||
        connect(in->fd, (struct sockaddr *)&server, sizeof server) < 0) {
        snprintf(last, last_size, "connect: %s", strerror(errno));
        goto done;
    }
    if (read_reply(in, last, last_size) != 220)
        goto done;
    snprintf(text, sizeof text, "EHLO %s\r\n", helo);
    if (command(in, text, 250, last, last_size) < 0)
        goto done;
    snprintf(text, sizeof text, "MAIL FROM:<%s> SIZE=%zu\r\n", mail_from, messages[index].length);
    if (command(in, text, 250, last, last_size) < 0)
        goto done;
    snprintf(text, sizeof text, "RCPT TO:<%s>\r\n", rcpt_to);
    if (command(in, text, 250, last, last_size) < 0)
        goto done;
    if (command(in, "DATA\r\n", 354, last, last_size) < 0)
        goto done;
    if (send_all(in->fd, messages[index].data, messages[index].length) < 0) {
        snprintf(last, last_size, "send: %s", strerror(errno));
        goto done;
    }
    if (read_reply(in, last, last_size) != 250)
        goto done;
    result = 0;
    /* Accepted: QUIT's answer no longer decides anything. */
    command(in, "QUIT\r\n", 221, text, sizeof text);
done:
    if (in->fd >= 0)
        close(in->fd);
    free(in);
    return result;
}

static void *client(void *unused) {
    (void)unused;
    char last[600];
    for (;;) {
        size_t index = atomic_fetch_add(&next_message, 1);
        if (index >= message_count)
            return NULL;
        if (one_session(index, last, sizeof last) == 0) {
            atomic_fetch_add(&sent, 1);
        } else {
            atomic_fetch_add(&failed, 1);
            report(index, "%s", last);
        }
    }
}

static int load(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return -1;
    struct stat info;
    if (fstat(fileno(file), &info) < 0)
        return -1;
    char *all = malloc((size_t)info.st_size + 1);
    if (!all || fread(all, 1, (size_t)info.st_size, file) != (size_t)info.st_size)
        return -1;
    fclose(file);
    size_t capacity = 64, at = 0, size = (size_t)info.st_size;
    messages = malloc(capacity * sizeof *messages);
    while (at < size) {
        char *end;
        unsigned long long length = strtoull(all + at, &end, 10);
        if (end == all + at || *end != '\n' || length > size - (size_t)(end + 1 - all))
            return -1;
        if (message_count == capacity) {
            capacity *= 2;
            messages = realloc(messages, capacity * sizeof *messages);
        }
        if (!messages)
            return -1;
        messages[message_count].data = end + 1;
        messages[message_count].length = (size_t)length;
        message_count++;
        at = (size_t)(end + 1 - all) + (size_t)length;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: smtpload HOST PORT SOURCE HELO FROM TO SESSIONS FILE\n");
        return 2;
    }
    server.sin_family = source.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1 || inet_pton(AF_INET, argv[3], &source.sin_addr) != 1) {
        fprintf(stderr, "smtpload: HOST and SOURCE must be IPv4 addresses\n");
        return 2;
    }
    helo = argv[4];
    mail_from = argv[5];
    rcpt_to = argv[6];
    int sessions = atoi(argv[7]);
    if (sessions < 1 || sessions > 1000 || load(argv[8]) < 0) {
        fprintf(stderr, "smtpload: bad SESSIONS or unreadable FILE %s\n", argv[8]);
        return 2;
    }
    pthread_t threads[1000];
    for (int i = 0; i < sessions; i++)
        if (pthread_create(&threads[i], NULL, client, NULL) != 0) {
            fprintf(stderr, "smtpload: cannot start thread %d\n", i);
            return 2;
        }
    for (int i = 0; i < sessions; i++)
        pthread_join(threads[i], NULL);
    printf("sent %zu failed %zu\n", (size_t)sent, (size_t)failed);
    return 0;
}
