/* SVG plots: well-formed XML, the expected number of drawn elements for a
 * given matrix/linkage, labels present and escaped, bad arguments rejected. */
#include "analyze.h"
#include "sdtest.h"

#include <stdlib.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) c++;
    return c;
}

/* Minimal XML check: every element closed in order, attributes quoted, no
 * stray '<' or '&' in text.  Returns 1 when well formed. */
static int well_formed(const char *s)
{
    char stack[64][32];
    int sp = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5)) return 0;
    p = strstr(p, "?>");
    if (!p) return 0;
    p += 2;
    while (*p) {
        if (*p == '&') {
            if (strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) && strncmp(p, "&amp;", 5) &&
                strncmp(p, "&quot;", 6))
                return 0;
            p++;
            continue;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        const char *end = p + 1;
        int inq = 0;
        while (*end && (inq || *end != '>')) {
            if (*end == '"') inq = !inq;
            else if (*end == '<' && !inq) return 0;
            end++;
        }
        if (!*end) return 0;
        if (p[1] == '/') {
            if (sp == 0) return 0;
            size_t l = strlen(stack[sp - 1]);
            if (strncmp(p + 2, stack[sp - 1], l) || p[2 + l] != '>') return 0;
            sp--;
        } else if (end[-1] != '/') {
            if (sp == 64) return 0;
            size_t l = strcspn(p + 1, " >/\n");
            if (l == 0 || l >= 32) return 0;
            memcpy(stack[sp], p + 1, l);
            stack[sp][l] = 0;
            sp++;
        }
        p = end + 1;
    }
    return sp == 0;
}

static void test_heatmap(sdt_t *t)
{
    const char *lab[3] = {"static", "mid", "a<b&c"};
    const double m[9] = {65045, 0, 340, 0, 22432, 70, 322, 83, 56424};
    sd_err_t e;
    const char *path = "plot_heatmap.svg";
    CHECK(t, plot_heatmap_svg(path, 3, m, lab, "LENS transitions", 1, &e) == SD_OK);
    char *s = slurp(path);
    CHECK(t, s != NULL);
    if (!s) return;
    CHECK(t, well_formed(s));
    CHECK_STR_CONTAINS(t, s, "viewBox=");
    CHECK_EQ_INT(t, count(s, "class=\"cell\""), 7); /* zeros are blank */
    CHECK_EQ_INT(t, count(s, "class=\"rowlabel\""), 3);
    CHECK_EQ_INT(t, count(s, "class=\"collabel\""), 3);
    CHECK_EQ_INT(t, count(s, "class=\"colorbar\""), 1);
    CHECK(t, count(s, ">static<") == 2 && count(s, ">mid<") == 2);
    CHECK(t, count(s, "a&lt;b&amp;c") >= 2 && !strstr(s, "a<b&c"));
    CHECK_STR_CONTAINS(t, s, "LENS transitions");
    /* log colour bar: decades 10^2 .. 10^4 labelled */
    CHECK_STR_CONTAINS(t, s, ">10<tspan dy=\"-6\" font-size=\"9\">2</tspan>");
    CHECK_STR_CONTAINS(t, s, ">10<tspan dy=\"-6\" font-size=\"9\">4</tspan>");
    CHECK_STR_CONTAINS(t, s, ">from<");
    CHECK_STR_CONTAINS(t, s, ">to<");
    free(s);
    /* linear scale, a 12x12 matrix: one cell per positive entry */
    double big[144];
    const char *l12[12];
    char names[12][16];
    int pos = 0;
    for (int i = 0; i < 144; i++) pos += (big[i] = (i % 5 == 0) ? 0 : i * 0.01) > 0;
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "g%d", i);
        l12[i] = names[i];
    }
    CHECK(t, plot_heatmap_svg(path, 12, big, l12, NULL, 0, &e) == SD_OK);
    s = slurp(path);
    CHECK(t, s && well_formed(s));
    if (s) CHECK_EQ_INT(t, count(s, "class=\"cell\""), pos);
    free(s);
    /* nothing positive: still a valid figure saying so */
    const double zero[4] = {0, 0, 0, 0};
    CHECK(t, plot_heatmap_svg(path, 2, zero, lab, "empty", 1, &e) == SD_OK);
    s = slurp(path);
    CHECK(t, s && well_formed(s) && strstr(s, "no positive entries"));
    free(s);
    remove(path);
}

static void test_chord(sdt_t *t)
{
    const char *lab[4] = {"A", "B", "C", "D"};
    /* D exchanges nothing: no arc; 4 positive off-diagonal flows */
    const double f[16] = {100, 5, 0, 0, 3, 50, 2, 0, 0, 1, 80, 0, 0, 0, 0, 9};
    sd_err_t e;
    const char *path = "plot_chord.svg";
    CHECK(t, plot_chord_svg(path, 4, f, lab, "exchanges", &e) == SD_OK);
    char *s = slurp(path);
    CHECK(t, s && well_formed(s));
    if (!s) return;
    CHECK_EQ_INT(t, count(s, "class=\"ribbon\""), 4);
    CHECK_EQ_INT(t, count(s, "class=\"arc\""), 3);
    CHECK_EQ_INT(t, count(s, "class=\"legend\""), 4);
    CHECK_EQ_INT(t, count(s, "class=\"nodelabel\""), 3);
    CHECK_STR_CONTAINS(t, s, "A → B: 5</title>");
    free(s);
    const double diag[4] = {3, 0, 0, 4};
    CHECK(t, plot_chord_svg(path, 2, diag, lab, "none", &e) == SD_OK);
    s = slurp(path);
    CHECK(t, s && well_formed(s) && strstr(s, "no exchanges"));
    free(s);
    const double neg[4] = {0, -1, 0, 0};
    CHECK_EQ_INT(t, plot_chord_svg(path, 2, neg, lab, "x", &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "flow[0][1]");
    remove(path);
}

static void test_dendrogram(sdt_t *t)
{
    /* ((0,1),(2,4)) then 3: scipy linkage ids 5,6,7,8 */
    const int za[4] = {0, 2, 5, 3}, zb[4] = {1, 4, 6, 7};
    const double zh[4] = {0.02, 0.05, 0.11, 0.3};
    const char *lab[5] = {"ref0", "ref1", "ref2", "ref3", "ref4"};
    sd_err_t e;
    const char *path = "plot_dendro.svg";
    CHECK(t, plot_dendrogram_svg(path, 5, za, zb, zh, lab, 0.08, &e) == SD_OK);
    char *s = slurp(path);
    CHECK(t, s && well_formed(s));
    if (!s) return;
    CHECK_EQ_INT(t, count(s, "class=\"link\""), 4);
    CHECK_EQ_INT(t, count(s, "class=\"leaf\""), 5);
    for (int i = 0; i < 5; i++) CHECK(t, strstr(s, lab[i]) != NULL);
    CHECK_EQ_INT(t, count(s, "class=\"cut\""), 1);
    CHECK_STR_CONTAINS(t, s, "(3 groups)"); /* {0,1}, {2,4}, {3} */
    /* leaf order of the tree: 3 is drawn first (left child of the root) */
    const char *p3 = strstr(s, ">ref3<"), *p0 = strstr(s, ">ref0<");
    CHECK(t, p3 && p0);
    free(s);
    CHECK(t, plot_dendrogram_svg(path, 5, za, zb, zh, lab, 0, &e) == SD_OK);
    s = slurp(path);
    CHECK(t, s && well_formed(s) && !strstr(s, "class=\"cut\""));
    free(s);
    /* bad linkages */
    const int reuse_a[4] = {0, 0, 5, 3};
    CHECK_EQ_INT(t, plot_dendrogram_svg(path, 5, reuse_a, zb, zh, lab, 0.1, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "merge 1");
    const int fwd[4] = {0, 2, 7, 3}; /* refers to a later merge */
    CHECK_EQ_INT(t, plot_dendrogram_svg(path, 5, fwd, zb, zh, lab, 0.1, &e), SD_EINVAL);
    const double nanh[4] = {0.1, NAN, 0.2, 0.3};
    CHECK_EQ_INT(t, plot_dendrogram_svg(path, 5, za, zb, nanh, lab, 0.1, &e), SD_ERANGE);
    CHECK_EQ_INT(t, plot_dendrogram_svg(path, 1, za, zb, zh, lab, 0.1, &e), SD_EINVAL);
    remove(path);
}

static void test_bad_args(sdt_t *t)
{
    sd_err_t e;
    const double m[4] = {1, 2, 3, 4};
    const char *lab[2] = {"a", "b"}, *nul[2] = {"a", NULL};
    CHECK_EQ_INT(t, plot_heatmap_svg("x.svg", 0, m, lab, "t", 1, &e), SD_EINVAL);
    CHECK_EQ_INT(t, plot_heatmap_svg("x.svg", 2, m, NULL, "t", 1, &e), SD_EINVAL);
    CHECK_EQ_INT(t, plot_heatmap_svg("x.svg", 2, m, nul, "t", 1, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "label 1");
    CHECK_EQ_INT(t, plot_chord_svg(NULL, 2, m, lab, "t", &e), SD_EINVAL);
    CHECK_EQ_INT(t, plot_heatmap_svg("/nonexistent-dir/x.svg", 2, m, lab, "t", 1, &e), SD_EIO);
    CHECK_STR_CONTAINS(t, e.msg, "/nonexistent-dir/x.svg");
    CHECK(t, access("x.svg", F_OK) != 0);
}

static void test_kde_plot(sdt_t *t)
{
    double g[101], d[101];
    for (int i = 0; i <= 100; i++) {
        g[i] = -0.02 + 0.003 * i;
        d[i] = exp(-0.5 * pow((g[i] - 0.1) / 0.04, 2)) * 10;
    }
    const double cuts[2] = {0.05, 0.12};
    const int col[3] = {0, 2, 1};
    const char *lab[3] = {"static", "middle", "dynamic & fast"};
    sd_err_t e;
    const char *path = "plot_kde.svg";
    CHECK(t, plot_kde_svg(path, 101, g, d, 2, cuts, col, lab, "LENS", "KDE", &e) == SD_OK);
    char *s = slurp(path);
    CHECK(t, s && well_formed(s));
    if (!s) return;
    CHECK_EQ_INT(t, count(s, "class=\"region\""), 3);
    CHECK_EQ_INT(t, count(s, "class=\"curve\""), 1);
    CHECK_EQ_INT(t, count(s, "class=\"cutline\""), 2);
    CHECK_EQ_INT(t, count(s, "class=\"legend\""), 3);
    CHECK_STR_CONTAINS(t, s, "dynamic &amp; fast");
    CHECK_STR_CONTAINS(t, s, ">density<");
    free(s);
    CHECK(t, plot_kde_svg(path, 101, g, d, 0, NULL, NULL, NULL, NULL, NULL, &e) == SD_OK);
    s = slurp(path);
    CHECK(t, s && well_formed(s) && count(s, "class=\"region\"") == 1);
    free(s);
    const double bad_cuts[2] = {0.12, 0.05};
    CHECK_EQ_INT(t, plot_kde_svg(path, 101, g, d, 2, bad_cuts, col, lab, "x", "t", &e), SD_ERANGE);
    d[7] = NAN;
    CHECK_EQ_INT(t, plot_kde_svg(path, 101, g, d, 2, cuts, col, lab, "x", "t", &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "point 7");
    CHECK_EQ_INT(t, plot_kde_svg(path, 1, g, d, 0, NULL, NULL, NULL, "x", "t", &e), SD_EINVAL);
    remove(path);
}

SDT_MAIN(SDT_CASE(test_heatmap), SDT_CASE(test_chord), SDT_CASE(test_dendrogram),
         SDT_CASE(test_bad_args), SDT_CASE(test_kde_plot))
