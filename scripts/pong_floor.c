/*
 * The floor for PING on this kernel: a raw-epoll server that does nothing
 * but answer "+PONG\r\n" once per "PING\r\n" it reads (inline or the last
 * line of a multibulk PING), with no parser, no command table, no state.
 * scripts/bench.py --floor runs it beside rudis and redis-server, so their
 * CPU per request can be read against what the system calls alone cost.
 *
 *     cc -O2 -o /tmp/pong_floor scripts/pong_floor.c && /tmp/pong_floor 7000
 *
 * It reads each readable client once per wake-up and answers at once.
 * redis-benchmark's opening "CONFIG GET save/appendonly" get an empty
 * setting back. A benchmark tool only, not hardened for arbitrary input.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define BUF 16384

static char pongs[BUF / 6 * 7 + 7];

/* Counts "PING\r\n" in buf, carrying a partial match across reads. */
static size_t count_pings(const char *buf, size_t len, int *matched) {
    static const char needle[] = "PING\r\n";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == needle[*matched]) {
            if (++*matched == 6) {
                n++;
                *matched = 0;
            }
        } else {
            *matched = buf[i] == 'P' ? 1 : 0;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    for (size_t i = 0; i + 7 <= sizeof pongs; i += 7) memcpy(pongs + i, "+PONG\r\n", 7);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 511)) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    static int partial[65536];
    static char buf[BUF];
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 100);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= 65536) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    partial[c] = 0;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t got = read(fd, buf, sizeof buf);
            if (got <= 0) {
                if (got == 0 || errno != EAGAIN) close(fd);
                continue;
            }
            for (char *at = buf; (at = memmem(at, (size_t)(buf + got - at), "CONFIG", 6)); at += 6) {
                static const char empty[] = "*2\r\n$1\r\nx\r\n$0\r\n\r\n";
                if (write(fd, empty, sizeof empty - 1) < 0) break;
            }
            size_t replies = count_pings(buf, (size_t)got, &partial[fd]);
            if (replies && write(fd, pongs, replies * 7) < 0) close(fd);
        }
    }
}
