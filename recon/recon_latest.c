#include "recon_latest.h"

#include "sd_atoms.h"
#include "sd_msg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Box average by an integer factor (the smallest that fits max_side), then
 * a percentile stretch so a few hot pixels do not flatten the contrast. */
static void thumb_from(const double *img, int h, int w, int max_side, uint8_t *out, int *th,
                       int *tw, double *lo, double *hi)
{
    int s = 1;
    while ((h + s - 1) / s > max_side || (w + s - 1) / s > max_side)
        s++;
    int H = (h + s - 1) / s, W = (w + s - 1) / s;
    double *box = malloc((size_t)H * (size_t)W * 2 * sizeof *box);
    *th = H;
    *tw = W;
    *lo = *hi = 0;
    if (!box) {
        memset(out, 0, (size_t)H * (size_t)W);
        return;
    }
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) {
            double sum = 0;
            int n = 0;
            for (int y = r * s; y < h && y < (r + 1) * s; y++)
                for (int x = c * s; x < w && x < (c + 1) * s; x++) {
                    double v = img[(int64_t)y * w + x];
                    if (isfinite(v)) { /* a dead pixel must not blank the picture */
                        sum += v;
                        n++;
                    }
                }
            box[(size_t)r * W + c] = n ? sum / n : 0;
        }
    size_t n = (size_t)H * (size_t)W;
    double *sorted = box + n;
    memcpy(sorted, box, n * sizeof *box);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    *lo = sorted[(size_t)(0.005 * (double)(n - 1))];
    *hi = sorted[(size_t)(0.995 * (double)(n - 1))];
    double span = *hi > *lo ? *hi - *lo : 1;
    for (size_t i = 0; i < n; i++) {
        double v = 255.0 * (box[i] - *lo) / span;
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
    }
    free(box);
}

void recon_latest_thumb(const double *img, int h, int w, int max_side, uint8_t *out, int *th,
                        int *tw, double *lo, double *hi)
{
    thumb_from(img, h, w, max_side, out, th, tw, lo, hi);
}

static void put_base64(FILE *f, const uint8_t *b, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        fputc(tab[(v >> 18) & 63], f);
        fputc(tab[(v >> 12) & 63], f);
        fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int recon_latest_write(const char *dir, const struct sd_msg_frame *f, double dx_A,
                       const struct sd_atoms *model, const int32_t *colid, sd_err_t *e)
{
    if (!f || f->width <= 0 || f->height <= 0 || !f->pixels || !(dx_A > 0) || !sd_dtype_size(f->dtype) ||
        f->pixels_len < (size_t)f->width * (size_t)f->height * sd_dtype_size(f->dtype))
        return sd_err_set(e, SD_EINVAL, "latest frame: bad frame or pixel size");
    char path[1200], tmp[1210];
    if (snprintf(path, sizeof path, "%s/latest.json", dir) >= (int)sizeof path)
        return sd_err_set(e, SD_EINVAL, "latest frame: directory name too long");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint8_t *thumb = malloc((size_t)RECON_LATEST_THUMB * RECON_LATEST_THUMB);
    int64_t ncol = 0;
    if (model && colid)
        for (int64_t i = 0; i < model->n; i++)
            if (colid[i] >= 0 && colid[i] + 1 > ncol)
                ncol = colid[i] + 1;
    double *acc = calloc((size_t)(3 * ncol + 1), sizeof *acc); /* [ncol] x, y, n */
    size_t npx = (size_t)f->width * (size_t)f->height;
    double *img = malloc(npx * sizeof *img);
    if (!thumb || !acc || !img) {
        free(thumb);
        free(acc);
        free(img);
        return sd_err_set(e, SD_ENOMEM, "latest frame: out of memory");
    }
    int th = 0, tw = 0;
    double lo = 0, hi = 0;
    sd_dtype_to_f64(f->dtype, f->pixels, npx, img);
    thumb_from(img, f->height, f->width, RECON_LATEST_THUMB, thumb, &th, &tw, &lo, &hi);
    free(img);
    for (int64_t i = 0; model && colid && i < model->n; i++)
        if (colid[i] >= 0) {
            acc[3 * colid[i]] += model->pos[3 * i];
            acc[3 * colid[i] + 1] += model->pos[3 * i + 1];
            acc[3 * colid[i] + 2] += 1;
        }
    FILE *o = fopen(tmp, "w");
    if (!o) {
        free(thumb);
        free(acc);
        return sd_err_set(e, SD_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    fprintf(o, "{\"series_id\":");
    put_str(o, f->series_id);
    fprintf(o, ",\"index\":%lld,\"t_acq_ns\":%lld,\"dx_A\":%.6g,\"width_A\":%.6g,\"height_A\":%.6g,"
               "\"thumb\":{\"w\":%d,\"h\":%d,\"lo\":%.6g,\"hi\":%.6g,\"u8\":\"",
            (long long)f->frame_index, (long long)f->t_acq_ns, dx_A, f->width * dx_A,
            f->height * dx_A, tw, th, lo, hi);
    put_base64(o, thumb, (size_t)tw * (size_t)th);
    fprintf(o, "\"},\"columns\":[");
    int first = 1;
    for (int64_t c = 0; c < ncol; c++) {
        double n = acc[3 * c + 2];
        if (n <= 0)
            continue;
        fprintf(o, "%s[%.3f,%.3f,%d]", first ? "" : ",", acc[3 * c] / n, acc[3 * c + 1] / n, (int)n);
        first = 0;
    }
    fprintf(o, "],\"atoms\":%lld}\n", (long long)(model ? model->n : 0));
    free(thumb);
    free(acc);
    if (fclose(o) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return sd_err_set(e, SD_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return SD_OK;
}
