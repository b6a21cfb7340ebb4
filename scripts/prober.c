/*
 * A lone latency-sensitive client: one connection that sends a PING every
 * interval and waits for its PONG, the way a health check or an
 * interactive user does. scripts/bench.py --prober runs it beside a
 * pipelining redis-benchmark crowd and reports what it saw.
 *
 *     cc -O2 -o /tmp/prober scripts/prober.c && /tmp/prober 6379 1000 5
 *
 * Arguments: port, microseconds between PINGs, seconds to run. It prints
 * one line: samples, then p50, p90, p99 and max round trip in microseconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s port interval_us seconds\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long interval_us = atol(argv[2]);
    double seconds = atof(argv[3]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("connect");
        return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    size_t cap = (size_t)(seconds * 1e6 / interval_us) + 16, n = 0;
    long long *samples = malloc(cap * sizeof *samples);
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    long long end = now_ns() + (long long)(seconds * 1e9);
    struct timespec gap = {interval_us / 1000000, (interval_us % 1000000) * 1000};
    while (n < cap && now_ns() < end) {
        long long sent = now_ns();
        if (write(fd, ping, sizeof ping - 1) != (ssize_t)(sizeof ping - 1)) {
            perror("write");
            return 1;
        }
        char reply[64];
        size_t got = 0;
        while (got < 7) { /* "+PONG\r\n" */
            ssize_t r = read(fd, reply + got, sizeof reply - got);
            if (r <= 0) {
                perror("read");
                return 1;
            }
            got += (size_t)r;
        }
        samples[n++] = now_ns() - sent;
        nanosleep(&gap, NULL);
    }
    qsort(samples, n, sizeof *samples, by_value);
#define AT(q) (samples[(size_t)((n - 1) * (q))] / 1000.0)
    printf("%zu %.1f %.1f %.1f %.1f\n", n, AT(0.50), AT(0.90), AT(0.99), AT(1.0));
    return 0;
}
