#include "deploy_cli.h"

#include "offline.h"

#include "sd_config.h"
#include "sd_log.h"
#include "supervisor.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int cmd_config(int argc, char **argv)
{
    static const struct option lo[] = {{"check", required_argument, 0, 'c'},
                                        {"print-defaults", no_argument, 0, 'p'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *check = NULL;
    int print = 0, ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:ph", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': check = optarg; break;
        case 'p': print = 1; break;
        case 'h':
            printf("usage: stemdyn config --print-defaults | --check FILE\n\n"
                   "  --print-defaults  write a complete configuration with every default to stdout\n"
                   "  --check FILE      load and validate FILE, print the first problem\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind < argc || (!check && !print) || (check && print))
        return sd_cli_fail("config", SD_EXIT_USAGE, "give exactly one of --print-defaults or --check FILE");
    sd_config_t c;
    sd_err_t e;
    if (check) {
        if (sd_config_load(check, &c, &e))
            return sd_cli_fail("config", SD_EXIT_FAIL, "%s", e.msg);
        printf("%s: ok\n", check);
        return SD_EXIT_OK;
    }
    sd_config_defaults(&c);
    sd_config_print(stdout, &c);
    return SD_EXIT_OK;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                        {"workers", required_argument, 0, 'w'},
                                        {"for", required_argument, 0, 't'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cfg_path = NULL;
    int64_t workers = -1;
    double max_s = 0;
    sd_err_t e;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:w:t:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': cfg_path = optarg; break;
        case 'w':
            if (sd_cli_parse_i64(optarg, "--workers", 0, 64, &workers, &e))
                return sd_cli_fail("run", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 't':
            if (sd_cli_parse_double(optarg, "--for", 0, 1e9, &max_s, &e))
                return sd_cli_fail("run", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h':
            printf("usage: stemdyn run [--config FILE] [--workers N] [--for SECONDS]\n\n"
                   "Starts and supervises every stage on this machine: analyze, the sim broker,\n"
                   "N sim workers, recon and ingest (each `stemdyn <stage> --config FILE`).\n"
                   "A crashed stage is restarted with back-off; SIGINT/SIGTERM stop all stages\n"
                   "gracefully (ingest flushes its recording, workers checkpoint their MD).\n"
                   "  --config FILE   configuration (libconfig; `stemdyn config --print-defaults`)\n"
                   "  --workers N     override the configured number of sim workers\n"
                   "  --for SECONDS   stop by itself after this long (tests, demos)\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sd_cli_fail("run", SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    sd_config_t c;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail("run", SD_EXIT_FAIL, "%s", e.msg);
    if (workers >= 0)
        c.workers = (int)workers;
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0)
        return sd_cli_fail("run", SD_EXIT_FAIL, "cannot locate the stemdyn binary");
    self[k] = '\0';
    supervisor_t *s = supervisor_new(NULL);
    if (!s)
        return sd_cli_fail("run", SD_EXIT_FAIL, "out of memory");
    char *cfg = (char *)(cfg_path ? cfg_path : "");
    /* Downstream first, so that every connecting stage finds its peer bound. */
    const char *stages[][3] = {{"analyze", "analyze", NULL}, {"broker", "sim", "broker"}};
    int rc = SD_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        char *av[8] = {self, (char *)stages[i][1]};
        int a = 2;
        if (stages[i][2])
            av[a++] = (char *)stages[i][2];
        if (cfg_path) {
            av[a++] = "--config";
            av[a++] = cfg;
        }
        av[a] = NULL;
        rc = supervisor_add(s, stages[i][0], av, &e);
    }
    for (int w = 0; w < c.workers && !rc; w++) {
        char name[32];
        snprintf(name, sizeof name, "worker%d", w);
        char *av[] = {self, "sim", "worker", cfg_path ? "--config" : NULL, cfg, NULL};
        rc = supervisor_add(s, name, av, &e);
    }
    const char *tail[] = {"recon", "ingest"};
    for (int i = 0; i < 2 && !rc; i++) {
        char *av[] = {self, (char *)tail[i], cfg_path ? "--config" : NULL, cfg, NULL};
        rc = supervisor_add(s, tail[i], av, &e);
    }
    if (!rc)
        rc = supervisor_run(s, max_s, &e);
    supervisor_destroy(&s);
    if (rc)
        return sd_cli_fail("run", SD_EXIT_FAIL, "%s", e.msg);
    return SD_EXIT_OK;
}

const sd_cli_cmd_t deploy_commands[] = {
    {"run", "start and supervise every stage on this machine", cmd_run},
    {"config", "print the default configuration or check a configuration file", cmd_config},
    {"offline", "the whole pipeline on a recording in one process (reference for the live service)",
     offline_cmd},
    {NULL, NULL, NULL},
};
