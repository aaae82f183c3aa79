/* webgw: serves the page, pushes the newest state over SSE at a capped rate,
 * writes self-contained reports. */
#include "sdtest.h"
#include "webgw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until `want` appears or timeout; returns bytes in buf. */
static size_t read_until(int fd, char *buf, size_t cap, size_t have, const char *want, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (have + 1 < cap) {
        buf[have] = 0;
        if (want && strstr(buf, want))
            break;
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t k = read(fd, buf + have, cap - 1 - have);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    buf[have] = 0;
    return have;
}

static size_t http_get(int port, const char *path, char *buf, size_t cap)
{
    int fd = connect_local(port);
    if (fd < 0)
        return 0;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return 0;
    }
    size_t k = read_until(fd, buf, cap, 0, NULL, 2000);
    close(fd);
    return k;
}

static void test_serves_page_and_state(sdt_t *t)
{
    sd_err_t e;
    webgw_opts_t o = {.host = "127.0.0.1", .port = 0, .max_rate_hz = 10};
    webgw_t *g = webgw_new(&o, &e);
    CHECK_MSG(t, g != NULL, "%s", e.msg);
    if (!g)
        return;
    int port = webgw_port(g);
    CHECK(t, port > 0);
    static char buf[1 << 20];
    http_get(port, "/", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, "200 OK");
    CHECK_STR_CONTAINS(t, buf, "data-testid=\"heatmap\"");
    http_get(port, "/app.js", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, "application/javascript");
    http_get(port, "/../etc/passwd", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, "404");
    http_get(port, "/state", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, "\r\n\r\nnull");
    const char *js = "{\"stats\":{\"seq\":1}}";
    CHECK_EQ_INT(t, webgw_publish(g, js, strlen(js), &e), SD_OK);
    http_get(port, "/state", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, js);
    webgw_destroy(&g);
    CHECK(t, g == NULL);
}

static void test_sse_rate_and_newest(sdt_t *t)
{
    sd_err_t e;
    webgw_opts_t o = {.host = "127.0.0.1", .port = 0, .max_rate_hz = 5};
    webgw_t *g = webgw_new(&o, &e);
    if (!g) {
        CHECK_MSG(t, 0, "%s", e.msg);
        return;
    }
    webgw_publish(g, "{\"v\":0}", 7, &e);
    int fd = connect_local(webgw_port(g));
    const char *req = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(t, write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    static char buf[1 << 16];
    size_t have = read_until(fd, buf, sizeof buf, 0, "{\"v\":0}", 2000);
    CHECK_STR_CONTAINS(t, buf, "text/event-stream");
    CHECK_STR_CONTAINS(t, buf, "event: state\ndata: {\"v\":0}");
    /* 200 publishes in ~1 s: a 5 Hz client must see only a handful, ending with the newest */
    char msg[64];
    for (int i = 1; i <= 200; i++) {
        int n = snprintf(msg, sizeof msg, "{\"v\":%d}", i);
        webgw_publish(g, msg, (size_t)n, &e);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    have = read_until(fd, buf, sizeof buf, have, "{\"v\":200}", 3000);
    CHECK_STR_CONTAINS(t, buf, "{\"v\":200}");
    int events = 0;
    for (const char *p = buf; (p = strstr(p, "event: state")); p++)
        events++;
    CHECK_MSG(t, events >= 2 && events <= 10, "%d events for 201 states at 5 Hz over ~1.2 s", events);
    close(fd);
    webgw_destroy(&g);
}

/* Parts go to a client only when they change; the base state keeps its own
 * pace; /state merges them. */
static void test_parts(sdt_t *t)
{
    sd_err_t e;
    webgw_opts_t o = {.host = "127.0.0.1", .port = 0, .max_rate_hz = 20};
    webgw_t *g = webgw_new(&o, &e);
    if (!g) {
        CHECK_MSG(t, 0, "%s", e.msg);
        return;
    }
    CHECK_EQ_INT(t, webgw_publish_part(g, "Bad-Name", "1", 1, &e), SD_EINVAL);
    CHECK_EQ_INT(t, webgw_publish_part(g, "frame", "", 0, &e), SD_EINVAL);
    static char buf[1 << 16];
    /* parts before any base state: /state is an object of the parts */
    CHECK_EQ_INT(t, webgw_publish_part(g, "frame", "{\"index\":7}", 11, &e), SD_OK);
    http_get(webgw_port(g), "/state", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, "\r\n\r\n{\"frame\":{\"index\":7}}");
    const char *base = "{\"stats\":{\"seq\":1}}";
    webgw_publish(g, base, strlen(base), &e);
    CHECK_EQ_INT(t, webgw_publish_part(g, "model", "[1,\n2]", 6, &e), SD_OK); /* one SSE line */
    http_get(webgw_port(g), "/state", buf, sizeof buf);
    CHECK_STR_CONTAINS(t, buf, "\r\n\r\n{\"stats\":{\"seq\":1},\"frame\":{\"index\":7},\"model\":[1, 2]}");
    int fd = connect_local(webgw_port(g));
    const char *req = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(t, write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    size_t have = read_until(fd, buf, sizeof buf, 0, "[1, 2]}", 2000);
    /* the first burst has everything */
    CHECK_STR_CONTAINS(t, buf, "event: state\ndata: {\"stats\":{\"seq\":1}}\n\n");
    CHECK_STR_CONTAINS(t, buf, "event: state\ndata: {\"frame\":{\"index\":7}}\n\n");
    CHECK_STR_CONTAINS(t, buf, "event: state\ndata: {\"model\":[1, 2]}\n\n");
    /* then ten base updates and one part update: the frame is never resent */
    for (int i = 2; i <= 11; i++) {
        char m[64];
        int n = snprintf(m, sizeof m, "{\"stats\":{\"seq\":%d}}", i);
        webgw_publish(g, m, (size_t)n, &e);
        if (i == 6)
            webgw_publish_part(g, "model", "[3]", 3, &e);
        struct timespec ts = {0, 60 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    have = read_until(fd, buf, sizeof buf, have, "{\"seq\":11}", 3000);
    CHECK_STR_CONTAINS(t, buf, "{\"seq\":11}");
    CHECK_STR_CONTAINS(t, buf, "data: {\"model\":[3]}");
    int frames = 0;
    for (const char *p = buf; (p = strstr(p, "\"frame\"")); p++)
        frames++;
    CHECK_EQ_INT(t, frames, 1);
    /* a ninth distinct part is refused, an existing one still updates */
    const char *names[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(t, webgw_publish_part(g, names[i], "0", 1, &e), SD_OK);
    CHECK_EQ_INT(t, webgw_publish_part(g, "z", "0", 1, &e), SD_ENOMEM);
    CHECK_EQ_INT(t, webgw_publish_part(g, "a", "1", 1, &e), SD_OK);
    close(fd);
    webgw_destroy(&g);
}

static void test_bad_listen(sdt_t *t)
{
    sd_err_t e;
    webgw_opts_t o = {.host = "not-an-ip", .port = 8080};
    CHECK(t, webgw_new(&o, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "bad listen address");
    webgw_opts_t o2 = {.host = "127.0.0.1", .port = 0};
    webgw_t *a = webgw_new(&o2, &e);
    webgw_opts_t o3 = {.host = "127.0.0.1", .port = a ? webgw_port(a) : 1};
    CHECK(t, webgw_new(&o3, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "cannot listen");
    webgw_destroy(&a);
}

static void test_report(sdt_t *t)
{
    sd_err_t e;
    char path[128];
    snprintf(path, sizeof path, "test_report_%d.html", (int)getpid());
    const char *js = "{\"stats\":{\"labels\":[\"b\",\"s\"],\"note\":\"</script> stays inert\"}}";
    CHECK_EQ_INT(t, webgw_write_report(path, js, strlen(js), &e), SD_OK);
    FILE *f = fopen(path, "r");
    static char buf[1 << 20];
    size_t k = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[k] = 0;
    if (f)
        fclose(f);
    CHECK_STR_CONTAINS(t, buf, "\"labels\":[\"b\",\"s\"]");
    CHECK_STR_CONTAINS(t, buf, "<\\/script> stays inert");
    CHECK(t, strstr(buf, "src=\"app.js\"") == NULL);
    CHECK(t, strstr(buf, "href=\"style.css\"") == NULL);
    CHECK_STR_CONTAINS(t, buf, "function drawHeatmap");
    remove(path);
    CHECK(t, webgw_write_report("/nonexistent-dir/r.html", js, strlen(js), &e) == SD_EIO);
}

SDT_MAIN(SDT_CASE(test_serves_page_and_state), SDT_CASE(test_sse_rate_and_newest), SDT_CASE(test_parts),
         SDT_CASE(test_bad_listen), SDT_CASE(test_report))
