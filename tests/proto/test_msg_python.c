/* Interoperability with an independent msgpack implementation (python3-msgpack):
 * Python decodes and checks a frame and a stats message encoded here (incl. the
 * CRC-32C, computed in pure Python), and Python encodes a sim_job (ints where
 * floats are expected, an unknown extra field, numpy-free struct packing) that
 * is decoded here.  Skips (77) when python3 or its msgpack module is missing. */
#include "msg_samples.h"
#include "sd_msg.h"
#include "sdtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *py_script =
    "import sys, struct, msgpack\n"
    "d = sys.argv[1]\n"
    "def parts(prefix):\n"
    "    out = []\n"
    "    i = 0\n"
    "    while True:\n"
    "        try:\n"
    "            out.append(open('%s/%s%d' % (d, prefix, i), 'rb').read())\n"
    "        except FileNotFoundError:\n"
    "            return out\n"
    "        i += 1\n"
    "def crc32c(b):\n"
    "    c = 0xffffffff\n"
    "    for x in b:\n"
    "        c ^= x\n"
    "        for _ in range(8):\n"
    "            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1\n"
    "    return c ^ 0xffffffff\n"
    "f = parts('frame')\n"
    "assert f[0] == b'frame', f[0]\n"
    "h = msgpack.unpackb(f[1], raw=False)\n"
    "assert h['v'] == [1, 0] and h['type'] == 'frame', h\n"
    "assert (h['width'], h['height'], h['dtype']) == (5, 3, 'u16'), h\n"
    "px = struct.unpack('<15H', f[2])\n"
    "assert px[0] == 7 and px[14] == 14007, px\n"
    "assert crc32c(f[2]) == h['crc32c'], (hex(crc32c(f[2])), h['crc32c'])\n"
    "s = parts('stats')\n"
    "assert s[0] == b'stats.all'\n"
    "h = msgpack.unpackb(s[1], raw=False)\n"
    "k = h['k']\n"
    "counts = struct.unpack('<%dq' % (k * k), h['counts'])\n"
    "assert counts == (5, 1, 0, 2, 7, 1, 0, 0, 9), counts\n"
    "assert h['labels'][1] == 'surface (111)' and h['progress']['target_ns'] == 100\n"
    "assert h['latency_s']['frame_to_model'] == [0.2, 0.9]\n"
    "pos = [0.25 * i for i in range(6)]\n"
    "hdr = {'v': [1, 0], 'type': 'sim_job', 'ts': 123, 'job_id': 'py-1',\n"
    "       'model_id': 'm', 'series_id': 's', 'frame_index': 2, 'element': 'Pt',\n"
    "       'temperature_K': 300, 'dt_fs': 2.5, 'thermalize_steps': 10,\n"
    "       'thermalize_dt_fs': 1, 'production_time_fs': 1000.0, 'dump_every_fs': 100,\n"
    "       'seed': 2**64 - 1, 'damp_ps': 0.1, 'n_atoms': 2, 'from_the_future': {'a': [1, 2]}}\n"
    "out = [b'sim_job', msgpack.packb(hdr, use_bin_type=True), struct.pack('<6d', *pos), b'']\n"
    "for i, p in enumerate(out):\n"
    "    open('%s/job%d' % (d, i), 'wb').write(p)\n"
    "print('python side ok')\n";

static void write_parts(const char *dir, const char *prefix, const sd_parts_t *p)
{
    for (int i = 0; i < p->n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s%d", dir, prefix, i);
        FILE *f = fopen(path, "wb");
        if (!f)
            SDT_SKIP("cannot write %s", path);
        fwrite(p->data[i], 1, p->len[i], f);
        fclose(f);
    }
}

static void test_python_interop(sdt_t *t)
{
    /* The first python with msgpack: $STEMDYN_PYTHON, python3 on PATH, Debian's. */
    const char *cands[] = {getenv("STEMDYN_PYTHON"), "python3", "/usr/bin/python3"};
    const char *py = NULL;
    for (size_t i = 0; i < 3 && !py; i++) {
        char probe[512];
        if (!cands[i])
            continue;
        snprintf(probe, sizeof probe, "%s -c 'import msgpack' >/dev/null 2>&1", cands[i]);
        if (system(probe) == 0)
            py = cands[i];
    }
    if (!py)
        SDT_SKIP("no python3 with the msgpack module (python3-msgpack)");
    char dir[] = "/tmp/sd_msg_py.XXXXXX";
    if (!mkdtemp(dir))
        SDT_SKIP("mkdtemp failed");
    sd_msg_t m;
    sd_parts_t p;
    sd_err_t e;
    make(&m, SD_MSG_FRAME);
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    write_parts(dir, "frame", &p);
    sd_parts_free(&p);
    make(&m, SD_MSG_STATS);
    CHECK_EQ_INT(t, sd_msg_encode(&m, &p, &e), SD_OK);
    write_parts(dir, "stats", &p);
    sd_parts_free(&p);

    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/check.py", dir);
    FILE *f = fopen(path, "w");
    CHECK(t, f != NULL);
    if (!f)
        return;
    fputs(py_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s %s", py, path, dir);
    CHECK_EQ_INT(t, system(cmd), 0);

    /* Decode what Python wrote. */
    static uint8_t buf[4][4096];
    sd_parts_t q = {0};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/job%d", dir, i);
        FILE *jf = fopen(path, "rb");
        CHECK_MSG(t, jf != NULL, "python did not write %s", path);
        if (!jf)
            return;
        q.len[i] = fread(buf[i], 1, sizeof buf[i], jf);
        q.data[i] = buf[i];
        fclose(jf);
        unlink(path);
    }
    q.n = 4;
    sd_msg_t d;
    int rc = sd_msg_decode(&q, &d, 0, &e);
    CHECK_MSG(t, rc == SD_OK, "decode of python's sim_job: %s", e.msg);
    if (rc == SD_OK) {
        const sd_msg_sim_job_t *j = &d.u.sim_job;
        CHECK(t, d.type == SD_MSG_SIM_JOB && !strcmp(j->job_id, "py-1") && !strcmp(j->element, "Pt"));
        CHECK(t, j->temperature_K == 300 && j->dt_fs == 2.5 && j->dump_every_fs == 100);
        CHECK(t, j->seed == UINT64_MAX && j->n_atoms == 2 && j->checkpoint == NULL);
        CHECK(t, j->pos[0] == 0 && j->pos[5] == 1.25);
        sd_msg_free(&d);
    }
    const char *names[] = {"frame0", "frame1", "frame2", "stats0", "stats1", "check.py"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

SDT_MAIN(SDT_CASE(test_python_interop))
