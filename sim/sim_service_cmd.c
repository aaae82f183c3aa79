/* `stemdyn sim broker|worker`: the MD side of the live service. */
#include "broker.h"
#include "sd_cli.h"
#include "sd_config.h"
#include "worker.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int sim_cmd_service(int argc, char **argv);

static void usage(void)
{
    printf("usage: stemdyn sim broker [--config FILE] [--for SECONDS]\n"
           "       stemdyn sim worker [--config FILE] [--broker ENDPOINT] [--id ID] [--jobs N] [--for SECONDS]\n\n"
           "broker: turns each model from recon (endpoints.broker_front) into an MD job and hands\n"
           "        jobs to idle workers (endpoints.broker_back); a job whose worker falls silent\n"
           "        (limits.heartbeat_s × limits.heartbeat_liveness) resumes from its last\n"
           "        checkpoint on another worker.  Jobs persist in DATA_DIR/sim/jobs/.\n"
           "worker: runs jobs with the paper's protocol (minimise, thermalise, production with\n"
           "        Langevin; md.* settings), streams a snapshot every md.dump_every_ns to analyze\n"
           "        (endpoints.analyze_in), checkpoints every md.checkpoint_every_ns.  Workers may run\n"
           "        on other hosts: --broker tcp://HOST:PORT.\n"
           "  --jobs N       exit after N jobs (0: never)\n"
           "  --for SECONDS  exit after this long\n");
}

int sim_cmd_service(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? SD_EXIT_USAGE : SD_EXIT_OK;
    }
    const char *role = argv[1];
    if (strcmp(role, "broker") && strcmp(role, "worker"))
        return sd_cli_fail("sim", SD_EXIT_USAGE, "unknown role '%s' (broker or worker)", role);
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                        {"broker", required_argument, 0, 'b'},
                                        {"id", required_argument, 0, 'i'},
                                        {"jobs", required_argument, 0, 'j'},
                                        {"for", required_argument, 0, 't'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cfg_path = NULL, *broker_ep = NULL, *id = NULL;
    int64_t jobs = 0;
    double max_s = 0;
    sd_err_t e;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:b:i:j:t:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': cfg_path = optarg; break;
        case 'b': broker_ep = optarg; break;
        case 'i': id = optarg; break;
        case 'j':
            if (sd_cli_parse_i64(optarg, "--jobs", 0, 1000000, &jobs, &e))
                return sd_cli_fail("sim", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 't':
            if (sd_cli_parse_double(optarg, "--for", 0, 1e9, &max_s, &e))
                return sd_cli_fail("sim", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h': usage(); return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind < argc - 1)
        return sd_cli_fail("sim", SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
    sd_config_t c;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail("sim", SD_EXIT_FAIL, "%s", e.msg);
    int rc;
    if (!strcmp(role, "broker")) {
        broker_t *b = broker_new(&c, &e);
        if (!b)
            return sd_cli_fail("sim", SD_EXIT_FAIL, "%s", e.msg);
        rc = broker_run(b, max_s, &e);
        broker_destroy(&b);
    } else {
        worker_t *w = worker_new(&c, id, broker_ep, &e);
        if (!w)
            return sd_cli_fail("sim", SD_EXIT_FAIL, "%s", e.msg);
        rc = worker_run(w, max_s, (int)jobs, &e);
        worker_destroy(&w);
    }
    return rc ? sd_cli_fail("sim", SD_EXIT_FAIL, "%s", e.msg) : SD_EXIT_OK;
}
